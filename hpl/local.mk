# hpl: see ../shared/DESIGN.md; filled in by the hpl issue.
