"""Where battles come from: the pinned Hub file (`hub`), a local file (`local`: its file type
sniffed, its layout detected), one reader per file type (`filetypes`), and what a valid battle
is (`checks`, and `checks_arrow` over a whole Arrow batch)."""
