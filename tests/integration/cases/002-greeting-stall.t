# The server accepts the connection and never sends its greeting.
# relayqd must give up after greeting_timeout, defer the message and
# back off the destination; it sends nothing (it speaks after the 220).
C: EHLO
