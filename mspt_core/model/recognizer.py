"""The line recognizer: shared encoder + a CTC head and/or an autoregressive decoder head."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from mspt_core.model.config import DOWNSAMPLE, RecognizerConfig
from mspt_core.model.encoder import Encoder
from mspt_core.model.heads import CTCHead, DecoderHead


class Recognizer(nn.Module):
    def __init__(self, config: RecognizerConfig, num_classes: int):
        super().__init__()
        self.config = config
        self.num_classes = num_classes
        self.encoder = Encoder(config)
        self.ctc = CTCHead(config, num_classes)
        self.decoder = DecoderHead(config, num_classes) if config.head == "decoder" else None

    def head(self) -> CTCHead | DecoderHead:
        return self.decoder if self.decoder is not None else self.ctc

    def loss(self, images, widths, targets, target_lengths) -> torch.Tensor:
        encoded, pad_mask = self.encoder(images, widths)
        return self.head().loss(encoded, pad_mask, targets, target_lengths)

    def ctc_log_probs(self, images, widths) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, F, C) log-probabilities of the CTC frames and their padding mask (B, F)."""
        encoded, pad_mask = self.encoder(images, widths)
        return self.ctc(encoded), pad_mask.repeat_interleave(self.config.ctc_frames, dim=1)

    def extend_charset(self, new_chars: int) -> None:
        """Add output rows for ``new_chars`` characters appended to the charset."""
        if new_chars <= 0:
            return
        self.ctc.extend(new_chars)
        if self.decoder is not None:
            self.decoder.extend(new_chars)
        self.num_classes += new_chars

    def per_class_tensors(self) -> set[str]:
        """State-dict keys of the tensors with one row per class: those ``extend_charset`` grows."""
        keys = {"ctc.proj.weight", "ctc.proj.bias"}
        if self.decoder is not None:
            keys |= {"decoder.proj.weight", "decoder.proj.bias", "decoder.embed.weight"}
        return keys

    def deepened(self, layers: int) -> Recognizer:
        """A copy of this model with ``layers`` encoder layers: the added ones sit on top of the
        others and start as the identity (their attention's output projection and their second
        feed-forward layer zero: a pre-norm layer adds what its sublayers give to its input), so
        the deeper model reads exactly as this one until training moves them. More layers to
        train on from a trained model, without first losing what it reads."""
        if layers < self.config.layers:
            raise ValueError(f"cannot deepen a {self.config.layers}-layer encoder to {layers} layers")
        grown = Recognizer(replace(self.config, layers=layers), self.num_classes)
        state = grown.state_dict()
        state.update(self.state_dict())  # layers 0..n-1 keep their names and weights
        grown.load_state_dict(state)
        for layer in grown.encoder.transformer.layers[self.config.layers :]:
            for last in (layer.self_attn.out_proj, layer.linear2):
                nn.init.zeros_(last.weight)
                nn.init.zeros_(last.bias)
        return self._like_this(grown)

    def widened(self, frontend_channels: tuple[int, ...]) -> Recognizer:
        """A copy of this model whose front end has ``frontend_channels`` (each at least as many
        as now). Every tensor keeps its trained values in its leading corner; an added channel
        starts from the grown model's own initialization, but what it feeds into a channel that
        was there before starts at zero, so every old channel, and the model's reading, is exactly
        as before until training moves them (up to float rounding: a longer sum may be split
        differently). More front-end capacity to train on from a trained model, without first
        losing what it reads."""
        before, after = tuple(self.config.frontend_channels), tuple(frontend_channels)
        if len(after) != len(before) or any(new < old for new, old in zip(after, before, strict=True)):
            raise ValueError(f"cannot widen front-end channels {list(before)} to {list(after)}")
        grown = Recognizer(replace(self.config, frontend_channels=after), self.num_classes)
        residuals = [[getattr(b, "residual", None) for b in m.encoder.frontend.modules()] for m in (self, grown)]
        if residuals[0] != residuals[1]:
            raise ValueError(
                f"channels {list(after)} would change the front end's shortcuts: where two neighbouring "
                f"counts of {list(before)} are equal (or differ) they must stay so"
            )
        old = self.state_dict()
        state = grown.state_dict()
        for name, target in state.items():
            source = old[name].to(target.device, target.dtype)
            if source.shape == target.shape:
                state[name] = source
                continue
            corner = tuple(slice(0, n) for n in source.shape)
            target[corner] = source
            if target.dim() >= 2 and target.shape[1] > source.shape[1]:
                target[: source.shape[0], source.shape[1] :] = 0  # new inputs into old outputs
        grown.load_state_dict(state)
        return self._like_this(grown)

    def taller(self, height: int) -> Recognizer:
        """A copy of this model that reads lines ``height`` px high (at least as high as now).
        Only the front end's projection depends on the height (it takes every row of the
        stride-8 feature map at once): its weights for each channel are resampled linearly from
        the old rows to the new, each row's share scaled by old rows / new rows, so a feature met
        all down a line adds up to about what it did (the end rows are held, not extrapolated).
        The convolutions see strokes larger than they learned on, so the copy reads worse than
        this model until training has adapted it: a start for a model with more pixels to a
        letter, not the same model at another size."""
        if height < self.config.height:
            raise ValueError(f"cannot make a model that reads {self.config.height}-px lines read {height}-px ones")
        config = replace(self.config, height=height)  # checks that height is a multiple of 8
        grown = Recognizer(config, self.num_classes)
        old_rows, new_rows = self.config.height // DOWNSAMPLE, height // DOWNSAMPLE
        state = self.state_dict()
        weight = state["encoder.frontend.project.weight"]
        per_channel = weight.double().reshape(weight.shape[0], -1, old_rows)
        # where the centre of each new row falls among the old rows' centres
        rows = torch.arange(new_rows, dtype=torch.float64, device=weight.device)
        where = ((rows + 0.5) * old_rows / new_rows - 0.5).clamp(0, old_rows - 1)
        below = where.floor().long()
        above = (below + 1).clamp(max=old_rows - 1)
        share = where - below
        resampled = per_channel[:, :, below] * (1 - share) + per_channel[:, :, above] * share
        scaled = (resampled * old_rows / new_rows).reshape(weight.shape[0], -1)
        state["encoder.frontend.project.weight"] = scaled.to(weight.dtype)
        grown.load_state_dict(state)
        return self._like_this(grown)

    def _like_this(self, grown: Recognizer) -> Recognizer:
        """``grown`` on this model's device, in its dtype and its training mode."""
        like = next(self.parameters())
        return grown.to(like.device, like.dtype).train(self.training)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
