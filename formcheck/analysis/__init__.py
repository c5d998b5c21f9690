"""Analysis, pure numpy: kinematics, foot contacts, stride time, gait, scenery motion and the rules."""
