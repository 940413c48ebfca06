"""cbreservoir: cortico-cerebellar reservoir computing.

A recurrent "cortical" core, trained briefly and then frozen as a reservoir, plus a trainable
cerebellar expansion module (granule → Purkinje → nuclei) that does the rest of the learning.
"""

__version__ = "0.1.0"
