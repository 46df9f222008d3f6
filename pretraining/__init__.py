"""Pretraining data (MLM blocks, whole-word masking, NSP pairs, denoising) and the pretraining run."""
