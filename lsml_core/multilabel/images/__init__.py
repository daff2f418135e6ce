"""The image data path: recipes, decoded-image caches, batch transforms on the device, loaders."""
