"""Small helpers any layer may import: untrusted text made safe to show (``plaintext``) and the
named points where the crash tests stop a process (``crashpoints``)."""
