"""Split files into passages: documents along headings, code along its syntax."""
