"""Configuration: NUT's parseconf tokenizer, the path defaults and one reader per config file."""

NUT_VERSION = "2.8.0"       # the NUT release whose behaviour pnut reproduces (reported where NUT reports its version)
PNUT_VERSION = "0.1.0"
