// The relay's version in /v1/health: Loopsy's own (loopsy/__init__.py; a Python test
// keeps the two equal).
export const VERSION = "0.1.0";
