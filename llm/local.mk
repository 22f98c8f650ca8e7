# llm: see ../shared/DESIGN.md; filled in by the llm issue.
