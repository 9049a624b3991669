"""Components: binary decoding, linking and instantiation."""
