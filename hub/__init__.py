"""Sharing on the Hub: self-contained remote-code export, model cards, push."""
