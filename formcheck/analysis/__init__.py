"""Analysis, pure numpy: kinematics, foot contacts, stride time, gait, scenery motion, the rules, and the
pipeline joining them."""
