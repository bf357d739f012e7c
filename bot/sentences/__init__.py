"""Choosing the sentences that answer: candidate features (`features`), the fitted model that scores them (`model`,
`model.json`), and the command that fits it (`python -m bot.sentences.fit`, not imported at run time)."""
