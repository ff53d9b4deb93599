"""The Lightning layer: the teacher/plain causal LM, the distillation student, frozen teachers, callbacks,
the teacher-cache build, and the start-up checks of a run."""
