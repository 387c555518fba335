"""The review loop: doubtful answers go to a labelling tool, corrections come back.

`model` holds the neutral types and rules, `loop` reads and writes the object store, and
`label_studio` / `board` are the Label Studio adapter.
"""
