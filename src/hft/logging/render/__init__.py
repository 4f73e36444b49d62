"""How a record becomes text, safely: JSON lines, redaction, secrets, timestamps.

Nothing here runs at a call site. The dispatcher redacts and masks (:mod:`.secrets`); the
writer process and the in-process backends render (:mod:`.lines`); :mod:`.clock` holds the few
time formats the package writes.
"""
