"""Custom pipelines for the tasks transformers 5 no longer ships (registered on `import seedformer`)."""
