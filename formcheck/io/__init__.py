"""Input and output of pictures: video files, cameras, H.264 writers, and keeping native libraries quiet."""
