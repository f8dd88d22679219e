#!/usr/bin/env python3
"""The PyTorch reference for latent's convolutional VAE (issue 19): the same net, the same protocol.

The net of latent::conv_vae (258,025 parameters): encoder Conv2d(1,32,k4,s2,p1)+ReLU (28->14),
Conv2d(32,64,k4,s2,p1)+ReLU (14->7), flatten 3136, Linear(3136, 2*20) = mu stacked over logvar;
decoder Linear(20,3136)+ReLU, 64x7x7, ConvTranspose2d(64,32,k4,s2,p1)+ReLU (7->14),
ConvTranspose2d(32,1,k4,s2,p1) = Bernoulli logits (14->28).

The protocol of `vae --arch conv`: Fashion-MNIST intensities in [0, 1] (not binarised), one
Monte Carlo sample of z, Adam lr 1e-3, batch 128, 10 epochs, the negative ELBO of the 10000 test
images after every epoch, then the IWAE bound with k = 100 on the first 2000 test images; both
evaluated in the chunks the example uses (125 test images, 500 decoded samples per pass), so the
peak memory of the two runs compares like with like.

Prints one line per epoch in the example's format (with the seconds of the training pass alone)
and the final `iwae` line, so the two logs read side by side. Usage:
    python3 bench/pytorch_conv_vae.py [--epochs 10] [--threads 2] [--seed 1] [--data DIR]
"""
import argparse
import gzip
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def read_idx(path):
    """An IDX file (gzipped or not) as a numpy array of its dimensions."""
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(folder, split):
    """Images of `split` ("train" or "t10k") as an N x 784 float tensor in [0, 1]."""
    for name in (f"{split}-images-idx3-ubyte.gz", f"{split}-images-idx3-ubyte"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            images = read_idx(path)
            return torch.from_numpy(images.reshape(len(images), 784).astype(np.float32) / 255.0)
    sys.exit(f"no {split} images in {folder} (install dataset-fashion-mnist or pass --data)")


class ConvVae(nn.Module):
    def __init__(self, latent=20):
        super().__init__()
        self.latent = latent
        self.conv1 = nn.Conv2d(1, 32, 4, 2, 1)
        self.conv2 = nn.Conv2d(32, 64, 4, 2, 1)
        self.head = nn.Linear(3136, 2 * latent)
        self.fc = nn.Linear(latent, 3136)
        self.deconv1 = nn.ConvTranspose2d(64, 32, 4, 2, 1)
        self.deconv2 = nn.ConvTranspose2d(32, 1, 4, 2, 1)

    def encode(self, x):
        h = F.relu(self.conv2(F.relu(self.conv1(x.view(-1, 1, 28, 28)))))
        return self.head(h.flatten(1)).chunk(2, dim=1)

    def decode(self, z):
        d = F.relu(self.fc(z)).view(-1, 64, 7, 7)
        return self.deconv2(F.relu(self.deconv1(d))).view(-1, 784)

    def log_weights(self, x, k):
        """log p(x, z) - log q(z | x) for k draws of z per image: a k x B tensor."""
        mu, logvar = self.encode(x)
        std = torch.exp(0.5 * logvar)
        eps = torch.randn((k,) + mu.shape)
        z = mu + eps * std
        logits = self.decode(z.view(-1, self.latent)).view(k, -1, 784)
        log_px = -F.binary_cross_entropy_with_logits(logits, x.expand(k, -1, -1), reduction="none").sum(-1)
        log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
        log_qz = -0.5 * (eps.pow(2) + logvar + math.log(2 * math.pi)).sum(-1)
        return log_px + log_pz - log_qz

    def loss_terms(self, x):
        """Per-image reconstruction (BCE from logits) and KL(q(z|x) || N(0, I)), one sample of z."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = F.binary_cross_entropy_with_logits(self.decode(z), x, reduction="none").sum(1)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        return recon, kl


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--eval-k", type=int, default=100)
    p.add_argument("--eval-images", type=int, default=2000)
    p.add_argument("--data", default=os.environ.get("LATENT_DATA", "/usr/share/datasets/fashion-mnist"))
    a = p.parse_args()
    if a.epochs < 1 or a.batch < 1 or a.threads < 1 or a.eval_k < 1 or a.eval_images < 1:
        sys.exit("--epochs, --batch, --threads, --eval-k and --eval-images must be at least 1")
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    train, test = load(a.data, "train"), load(a.data, "t10k")
    model = ConvVae()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    print(f"pytorch {torch.__version__}, {sum(p.numel() for p in model.parameters())} parameters, "
          f"{len(train)} training images, {a.threads} threads, mkldnn={torch.backends.mkldnn.is_available()}",
          file=sys.stderr)
    for epoch in range(1, a.epochs + 1):
        start = time.perf_counter()
        model.train()
        total = 0.0
        for batch in torch.randperm(len(train)).split(a.batch):
            x = train[batch]
            recon, kl = model.loss_terms(x)
            loss = (recon + kl).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            terms = [model.loss_terms(x) for x in test.split(125)]
            recon = torch.cat([t[0] for t in terms]).mean().item()
            kl = torch.cat([t[1] for t in terms]).mean().item()
        print(f"epoch={epoch} train_loss={total / len(train):.2f} test_loss={recon + kl:.2f} test_recon={recon:.2f} "
              f"test_kl={kl:.2f} seconds={seconds:.2f}", flush=True)
    with torch.no_grad():
        x = test[:a.eval_images]
        lw = torch.cat([model.log_weights(xb, a.eval_k) for xb in x.split(max(1, 500 // a.eval_k))], dim=1)
        nll = -(torch.logsumexp(lw, 0) - math.log(a.eval_k)).mean().item()
    print(f"iwae k={a.eval_k} images={len(x)} test_nll={nll:.2f}")
    print(f"peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()
