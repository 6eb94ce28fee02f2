"""Output heads over the shared encoder.

Both heads use the charset's id space (0 = CTC blank; 1..n = characters). The autoregressive
decoder reuses id 0 as its start token on input and as its end token on output, so extending
the charset only appends rows and never moves an existing id."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mspt_core.model.config import RecognizerConfig
from mspt_core.model.dropout import use_fast_dropout
from mspt_core.model.encoder import layer_settings, sinusoidal_positions

START = END = 0
IGNORE = -100  # target padding for cross-entropy


def _grow_linear(old: nn.Linear, rows: int) -> nn.Linear:
    """A copy of ``old`` with ``rows`` more output rows; old rows unchanged, new ones small."""
    new = nn.Linear(old.in_features, old.out_features + rows, bias=old.bias is not None)
    with torch.no_grad():
        new.weight.normal_(0.0, 0.02)
        new.weight[: old.out_features] = old.weight
        if old.bias is not None:
            new.bias.zero_()
            new.bias[: old.out_features] = old.bias
            # New characters start unlikely so old predictions stay as they were.
            new.bias[old.out_features :] = old.bias.min().item() - 5.0
    return new.to(old.weight.device)


class CTCHead(nn.Module):
    """Per-frame class scores. With ``ctc_frames`` k > 1 each encoder token is first expanded
    into k frame vectors (one linear layer), so the CTC alignment gets k frames per 8 px while
    attention still runs over one token per 8 px."""

    def __init__(self, config: RecognizerConfig, num_classes: int):
        super().__init__()
        self.frames = config.ctc_frames
        self.expand = nn.Linear(config.d_model, config.d_model * self.frames) if self.frames > 1 else None
        self.proj = nn.Linear(config.d_model, num_classes)

    def forward(self, encoded: torch.Tensor) -> torch.Tensor:
        """Log-probabilities (B, T * ctc_frames, C)."""
        if self.expand is not None:
            b, t, d = encoded.shape
            encoded = F.gelu(self.expand(encoded)).reshape(b, t * self.frames, d)
        return F.log_softmax(self.proj(encoded).float(), dim=-1)

    def frame_lengths(self, pad_mask: torch.Tensor) -> torch.Tensor:
        """Real frames of each line, from the encoder's padding mask (B, T)."""
        return (~pad_mask).sum(1) * self.frames

    def loss(self, encoded, pad_mask, targets, target_lengths) -> torch.Tensor:
        log_probs = self(encoded).transpose(0, 1)  # (T, B, C) as ctc_loss wants
        input_lengths = self.frame_lengths(pad_mask)
        return F.ctc_loss(
            log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=True
        )

    def extend(self, rows: int) -> None:
        self.proj = _grow_linear(self.proj, rows)


class DecoderHead(nn.Module):
    """Autoregressive transformer decoder (pre-norm) attending to the encoder tokens."""

    def __init__(self, config: RecognizerConfig, num_classes: int):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(num_classes, config.d_model)
        layer = nn.TransformerDecoderLayer(**layer_settings(config))
        self.transformer = nn.TransformerDecoder(layer, config.decoder_layers)
        self.norm = nn.LayerNorm(config.d_model)
        self.proj = nn.Linear(config.d_model, num_classes)
        use_fast_dropout(self)

    def logits(self, inputs: torch.Tensor, encoded: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        length = inputs.shape[1]
        x = self.embed(inputs) + sinusoidal_positions(length, self.config.d_model, inputs.device)
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=inputs.device), 1)
        x = self.transformer(x, encoded, tgt_mask=causal, memory_key_padding_mask=pad_mask)
        return self.proj(self.norm(x)).float()

    def loss(self, encoded, pad_mask, targets, target_lengths) -> torch.Tensor:
        """Teacher-forced cross-entropy. ``targets`` is the CTC-style concatenation of all ids."""
        batch = encoded.shape[0]
        longest = int(target_lengths.max()) + 1
        inputs = torch.full((batch, longest), START, dtype=torch.long, device=encoded.device)
        wanted = torch.full((batch, longest), IGNORE, dtype=torch.long, device=encoded.device)
        offset = 0
        for i, n in enumerate(target_lengths.tolist()):
            ids = targets[offset : offset + n]
            offset += n
            inputs[i, 1 : n + 1] = ids
            wanted[i, :n] = ids
            wanted[i, n] = END
        logits = self.logits(inputs, encoded, pad_mask)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), wanted.reshape(-1), ignore_index=IGNORE)

    @torch.no_grad()
    def greedy(self, encoded: torch.Tensor, pad_mask: torch.Tensor) -> tuple[list[list[int]], list[list[float]]]:
        """Greedy decoding; stops at END or at a length guard (twice the line's token count, at
        most ``max_text_length``) so a confused model cannot loop forever."""
        batch = encoded.shape[0]
        # Each line's own guard, so a line decodes the same alone or in a batch.
        guards = ((~pad_mask).sum(1) * 2 + 8).clamp(max=self.config.max_text_length)
        inputs = torch.full((batch, 1), START, dtype=torch.long, device=encoded.device)
        ids: list[list[int]] = [[] for _ in range(batch)]
        confs: list[list[float]] = [[] for _ in range(batch)]
        done = torch.zeros(batch, dtype=torch.bool, device=encoded.device)
        for step in range(int(guards.max())):
            done |= guards <= step
            if bool(done.all()):
                break
            probs = self.logits(inputs, encoded, pad_mask)[:, -1].softmax(-1)
            conf, best = probs.max(-1)
            for i in range(batch):
                if not done[i] and best[i] != END:
                    ids[i].append(int(best[i]))
                    confs[i].append(float(conf[i]))
            done |= best == END
            if bool(done.all()):
                break
            inputs = torch.cat([inputs, best[:, None]], dim=1)
        return ids, confs

    def extend(self, rows: int) -> None:
        old = self.embed
        self.embed = nn.Embedding(old.num_embeddings + rows, old.embedding_dim).to(old.weight.device)
        with torch.no_grad():
            self.embed.weight[: old.num_embeddings] = old.weight
        self.proj = _grow_linear(self.proj, rows)
