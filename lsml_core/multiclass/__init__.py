"""The single-label track: Fashion-MNIST / CIFAR, label smoothing two ways, instance-based smoothing, distillation."""
