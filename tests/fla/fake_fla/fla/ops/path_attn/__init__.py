from .parallel import parallel_path_attn

__all__ = ["parallel_path_attn"]
