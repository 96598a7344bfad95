"""The base every layer may import: settings, the decision vocabulary, the palette."""
