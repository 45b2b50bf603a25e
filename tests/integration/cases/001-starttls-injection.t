# The server answers STARTTLS with its 220 and, in the same segment, a
# reply that would be taken as coming through TLS (CVE-2011-0411 class).
# relayqd must abort before the handshake and send nothing else.
S: 220 fake.test ESMTP
C: EHLO
S: 250-fake.test
S: 250-PIPELINING
S: 250 STARTTLS
C: STARTTLS
S: 220 2.0.0 go ahead
S: 250 injected
