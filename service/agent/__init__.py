"""The edge agent (`happiness agent`): beside a camera, turns its video into counts of people and
sends only those to the service. Heavy parts (OpenCV, the model, the tracker) are imported when
used, so `happiness --help` stays quick."""
