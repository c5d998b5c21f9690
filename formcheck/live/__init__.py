"""The live check: a webcam stream judged on its last seconds, by the same analysis as clips."""
