# The server takes the whole message and never answers the final dot.
# relayqd must wait dot_timeout, then defer: the server may have the
# message, so the retry can deliver a duplicate (the RFC 1047 window,
# doc/delivery.md).  After the script fakesmtpd reads until relayqd
# closes.
S: 220 fake.test ESMTP
C: EHLO
S: 250 fake.test
C: MAIL FROM:
S: 250 2.1.0 ok
C: RCPT TO:
S: 250 2.1.5 ok
C: DATA
S: 354 go ahead
