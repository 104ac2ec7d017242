# Rewrites the sha256 in a generated manifest to a wrong value (for the SHA-256 mismatch test).
file(READ ${MANIFEST} text)
string(REGEX REPLACE "sha256: [0-9a-f]+" "sha256: 0000000000000000000000000000000000000000000000000000000000000000"
       text "${text}")
file(WRITE ${MANIFEST} "${text}")
