"""The platforms' pure rules: callback crypto and XML, credential shapes, token timing."""
