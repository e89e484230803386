"""Where battles come from: the pinned Hub file (`hub`), a local file (`local`: its file type
sniffed, its layout detected) and one reader per file type (`filetypes`). What a valid battle
is, each layout says (`layouts`)."""
