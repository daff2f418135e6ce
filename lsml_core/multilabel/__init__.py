"""The multi-label track: VOC or the Fashion-MNIST mosaics, smoothing schemes, AP, calibration, evidence."""
