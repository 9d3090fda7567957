# Prints a pip-compile lock without torch, torchvision and the CUDA wheels PyPI's torch
# brings (each pin with its hash lines), for images that take torch from PyTorch's own
# index instead: see the Dockerfile's TORCH_INDEX.
/^[A-Za-z0-9]/ { skip = ($0 ~ /^(torch|torchvision|triton|nvidia-[a-z0-9-]+|cuda-[a-z-]+)==/) }
!skip
