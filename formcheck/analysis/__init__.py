"""Analysis, pure numpy: kinematics, gait events, scenery motion, the rules, and the pipeline joining them."""
