"""exegan: exemplar-guided facial inpainting (EXE-GAN, Lu et al., Neurocomputing 2025) in plain PyTorch.

    from exegan import ExeGAN
    model = ExeGAN.from_pretrained("assets/default-model")
    results = model.inpaint("face.png", "mask.png", "exemplar.png", n_samples=4, seed=0)
"""

from ._torchvision import ensure_torchvision

ensure_torchvision()  # before anything imports torchvision or lpips (no-op where torchvision imports normally)

from .checkpoints import GeneratorConfig, ModelConfig, StyleEncoderConfig  # noqa: E402
from .pipeline import ExeGAN  # noqa: E402

__version__ = "0.1.0"
__all__ = ["ExeGAN", "ModelConfig", "GeneratorConfig", "StyleEncoderConfig", "__version__"]
