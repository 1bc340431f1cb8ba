"""The training loops, one file per model (`vae`, `wgan`, `classifier`), and the pieces they share (`common`).

Each loop is plain PyTorch you can read top to bottom: no Trainer framework. Each returns a `TrainResult` that
`vaegan.checkpoint.save_result` exports as a self-describing file.
"""
