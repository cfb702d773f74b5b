"""Media stage: probe, decode, sample frames, extract audio, cut segments."""
