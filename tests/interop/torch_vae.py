"""The PyTorch side of tests/interop/test_torch_round_trip.cpp (Debian: python3-torch, python3-numpy).

The reference VAE of pytorch/examples (vae/main.py), with its loss function as written there, and
the safetensors format written and read with json + numpy (the `safetensors` package is not in
Debian 12). Every command works in DIR:

  torch_vae.py make DIR        reference VAE from torch.manual_seed(0) -> DIR/torch.safetensors, and
                               its ELBO on DIR/x.npy with DIR/eps.npy -> DIR/torch.safetensors.elbo.npy
  torch_vae.py eval DIR NAME   load DIR/NAME into the reference VAE (strict), ELBO -> DIR/NAME.elbo.npy,
                               and its state_dict saved again -> DIR/NAME.resaved.safetensors
  torch_vae.py halves DIR      F16 and BF16 tensors with their F32 values -> DIR/halves.safetensors
  torch_vae.py npy DIR         arrays numpy writes (C and Fortran order, v1 and v2 headers) -> DIR/*.npy
  torch_vae.py npy-check DIR   each DIR/X.npy equals DIR/X.back.npy (written by latent) bit for bit

Exit status 0 on success, 1 with a message on a mismatch.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class VAE(nn.Module):
    """pytorch/examples vae/main.py, with reparameterize taking eps from outside."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar, eps):
        std = torch.exp(0.5 * logvar)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x, eps):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar


def loss_terms(recon_x, x, mu, logvar):
    """The reference loss_function's two terms (sums over the batch)."""
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce, kld


DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def write_safetensors(path, tensors, metadata=None):
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, array in tensors.items():
        if isinstance(array, tuple):  # ("BF16", its raw uint16 bits)
            dtype, array = array
        else:
            dtype = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.float16): "F16"}[array.dtype]
        blob = np.ascontiguousarray(array).tobytes()  # little-endian hosts only, as latent's CI
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=dtype).reshape(entry["shape"])
    return out


def elbo(model, directory):
    """Per-example [total, recon, kl] in nats, as latent reports them (sums divided by the batch)."""
    x = torch.from_numpy(np.load(os.path.join(directory, "x.npy")))
    eps = torch.from_numpy(np.load(os.path.join(directory, "eps.npy")))
    with torch.no_grad():
        recon_x, mu, logvar = model(x, eps)
        bce, kld = loss_terms(recon_x, x, mu, logvar)
    b = x.shape[0]
    return np.array([(bce + kld).item() / b, bce.item() / b, kld.item() / b], dtype=np.float64)


def state(model):
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


def main(argv):
    command, directory = argv[1], argv[2]
    path = lambda name: os.path.join(directory, name)
    if command == "make":
        torch.manual_seed(0)
        model = VAE()
        write_safetensors(path("torch.safetensors"), state(model), {"format": "pt"})
        np.save(path("torch.safetensors.elbo.npy"), elbo(model, directory))
    elif command == "eval":
        name = argv[3]
        model = VAE()
        tensors = read_safetensors(path(name))
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tensors.items()}, strict=True)
        np.save(path(name + ".elbo.npy"), elbo(model, directory))
        write_safetensors(path(name + ".resaved.safetensors"), state(model))
    elif command == "halves":
        torch.manual_seed(1)
        t = torch.randn(3, 5) * 100
        t[0, 0], t[0, 1], t[0, 2] = 1e-6, -0.0, 70000.0  # an F16 subnormal, a negative zero, beyond F16: inf
        h, b = t.half(), t.bfloat16()
        write_safetensors(path("halves.safetensors"), {
            "h": h.numpy(), "b": ("BF16", b.view(torch.int16).numpy().view(np.uint16)),
            "h32": h.float().numpy(), "b32": b.float().numpy()})
    elif command == "npy":
        rng = np.random.default_rng(3)
        special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4e38], dtype=np.float32)
        c = rng.standard_normal((5, 7)).astype(np.float32)
        c.flat[:special.size] = special
        np.save(path("f4_c.npy"), c)
        np.save(path("f8_fortran.npy"), np.asfortranarray(rng.standard_normal((3, 4, 2))))
        np.save(path("u1_images.npy"), rng.integers(0, 256, (6, 4, 3), dtype=np.uint8))
        np.save(path("f8_vector.npy"), rng.standard_normal(9))
        with open(path("f4_v2.npy"), "wb") as f:
            np.lib.format.write_array(f, rng.standard_normal((4, 3)).astype(np.float32), version=(2, 0))
        np.save(path("labels.npy"), rng.integers(0, 10, 6))  # int64, for the u1 images
    elif command == "npy-check":
        for name in ["f4_c", "f8_fortran", "u1_images", "f8_vector", "f4_v2"]:
            a, b = np.load(path(name + ".npy")), np.load(path(name + ".back.npy"))
            if a.dtype != b.dtype or a.shape != b.shape or np.ascontiguousarray(a).tobytes() != b.tobytes():
                print(f"{name}: latent wrote {b.dtype} {b.shape}, numpy had {a.dtype} {a.shape}, or the bytes differ")
                return 1
        latents = np.load(path("latents.npy"))
        if latents.shape != (16, 20) or latents.dtype != np.float32:
            print(f"latents.npy is {latents.dtype} {latents.shape}, expected float32 (16, 20)")
            return 1
    else:
        print("unknown command", command)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
