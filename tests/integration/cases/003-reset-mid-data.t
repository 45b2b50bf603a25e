# The server accepts the transaction, reads ten lines of the body,
# then hangs up while relayqd is still sending (the client line that
# never comes makes fakesmtpd close the socket with data unread, so
# the kernel resets the connection).  relayqd must defer the message
# and deliver it exactly once later.
S: 220 fake.test ESMTP
C: EHLO
S: 250-fake.test
S: 250 PIPELINING
C: MAIL FROM:
C: RCPT TO:
C: DATA
S: 250 2.1.0 ok
S: 250 2.1.5 ok
S: 354 go ahead
# Any ten lines of the body, then a line that never comes: hang up.
C: 
C: 
C: 
C: 
C: 
C: 
C: 
C: 
C: 
C: 
C: this-line-never-comes
