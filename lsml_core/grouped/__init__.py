"""The grouped track: one softmax head per label group, weighted group losses, SESEMI, pseudo-labels."""
