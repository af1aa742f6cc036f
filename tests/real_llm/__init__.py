"""Optional tests against a real model: llama-cpp-python and SmolLM2-135M (marker `real_llm`)."""
