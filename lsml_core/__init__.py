"""lsml_core: the computing core of the label-smoothing multi-label study."""
