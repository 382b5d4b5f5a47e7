"""The DeepTGI network, factorized by construction into entity encoders and a pair head.

A pair (t, g) is scored from ``tf_features`` and ``gene_features``, float32
``[pairs, modalities, feature_genes]``: the PCC rows of the TF and of the target gene against
the feature genes, one row per expression modality. Four branches look at the pair:

* ``autoencoder``: an auto-encoder on the concatenation [tf, gene] whose hidden vector is cut
  into chunks that attend to each other (self-attention inside one pair); its decoder
  reconstructs the concatenated input (auxiliary MSE loss);
* ``cnn``: a 2-row convolution over the TF row stacked on the gene row of the pair, then a 1D
  convolution;
* ``siamese``: a twin network with shared weights applied to each side alone (attention over
  chunks, linear, layer norm), the two sides combined afterwards;
* ``add_autoencoder``: an auto-encoder on the element-wise sum tf + gene.

The branch outputs and their sum are the tokens of the pair; a transformer encoder runs over
them (``fusion="attention"``) and an MLP (linear, batch norm, GELU, dropout, linear) gives the
logit.

Every branch's first operation is linear in each side separately: a linear layer on a
concatenation is a TF linear layer plus a gene linear layer, a (2, k) convolution over the
stacked rows is a TF 1-row convolution plus a gene 1-row convolution, the add auto-encoder's
first layer applied to tf + gene is the same layer applied to each side, and the twin network
is per-side until the sides meet. :meth:`DeepTGI.encode_tf` / :meth:`DeepTGI.encode_gene`
compute those per-side parts (one flat state vector per entity) and :meth:`DeepTGI.head` does
the rest, so genome-scale scoring runs the encoders once per entity and only the head per
pair. Attention never mixes the pairs of a batch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .configs import BRANCHES, ModelConfig


class TokenAttention(nn.Module):
    """Multi-head self-attention among the tokens of each pair: ``[B, T, dim] -> [B, T, dim]``.

    The query/key/value projections have no bias: a key bias cancels in the softmax and a value
    bias is absorbed by the output bias, so they would be dead parameters.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)
        self.value = nn.Linear(dim, dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, tokens: Tensor) -> Tensor:
        """``tokens`` float32 ``[B, T, dim]`` -> float32 ``[B, T, dim]``."""
        n_tokens, dim = tokens.shape[1], tokens.shape[2]
        query = self.query(tokens) / math.sqrt(self.head_dim)
        key, value = self.key(tokens), self.value(tokens)
        if self.heads == 1:
            # Without head axes the exported graph needs no transposes, which dominate the cost
            # of tiny per-pair attention at large batch sizes.
            return self.out(torch.softmax(query @ key.transpose(-1, -2), dim=-1) @ value)
        # -1 for the pair axis keeps the exported graph's batch dimension dynamic.
        query, key, value = (
            t.reshape(-1, n_tokens, self.heads, self.head_dim).transpose(1, 2) for t in (query, key, value)
        )
        mixed = torch.softmax(query @ key.transpose(-1, -2), dim=-1) @ value
        return self.out(mixed.transpose(1, 2).reshape(-1, n_tokens, dim))


class ChunkAttention(nn.Module):
    """Cut a vector into ``tokens`` chunks, let them attend to each other, add and normalize.

    ``[B, tokens * chunk] -> [B, tokens * chunk]``.
    """

    def __init__(self, width: int, tokens: int, heads: int):
        super().__init__()
        self.tokens = tokens
        self.chunk = width // tokens
        self.attention = TokenAttention(self.chunk, heads)
        self.norm = nn.LayerNorm(self.chunk)

    def forward(self, vector: Tensor) -> Tensor:
        """``vector`` float32 ``[B, width]`` -> float32 ``[B, width]``."""
        chunks = vector.reshape(-1, self.tokens, self.chunk)
        chunks = self.norm(chunks + self.attention(chunks))
        return chunks.reshape(-1, self.tokens * self.chunk)


class FusionLayer(nn.Module):
    """One post-norm transformer encoder layer over the tokens of each pair."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float):
        super().__init__()
        self.attention = TokenAttention(dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.feed_forward = nn.Sequential(nn.Linear(dim, ff), nn.GELU(), nn.Linear(ff, dim))
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: Tensor) -> Tensor:
        """``tokens`` float32 ``[B, T, dim]`` -> float32 ``[B, T, dim]``."""
        tokens = self.norm1(tokens + self.dropout(self.attention(tokens)))
        return self.norm2(tokens + self.dropout(self.feed_forward(tokens)))


def _decoder(latent: int, hidden: int, output: int) -> nn.Sequential:
    return nn.Sequential(nn.GELU(), nn.Linear(latent, hidden), nn.GELU(), nn.Linear(hidden, output))


class ConcatAutoencoder(nn.Module):
    """Auto-encoder on [tf, gene] with self-attention over chunks of its hidden vector.

    Per-side state: the side's share of the first layer's pre-activation, ``[B, hidden]``.
    """

    def __init__(self, config: ModelConfig, input_width: int):
        super().__init__()
        latent = config.ae_latent
        hidden = config.ae_hidden or (2 * input_width + latent) // 2
        # The chunks must split evenly into tokens and heads.
        hidden -= hidden % (config.ae_tokens * config.ae_heads)
        decoder_hidden = config.decoder_hidden or (2 * input_width + latent) // 2
        self.state_size = hidden
        # Linear([tf, gene]) == tf_part(tf) + gene_part(gene) + bias.
        self.tf_part = nn.Linear(input_width, hidden, bias=False)
        self.gene_part = nn.Linear(input_width, hidden, bias=False)
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.attention = ChunkAttention(hidden, config.ae_tokens, config.ae_heads)
        self.to_latent = nn.Linear(hidden, latent)
        self.to_token = nn.Linear(latent, config.token_dim)
        self.decoder = _decoder(latent, decoder_hidden, 2 * input_width)

    def encode_tf(self, tf_flat: Tensor) -> Tensor:
        """TF part ``[B, hidden]`` of the first layer from ``tf_flat`` ``[B, modalities * feature_genes]``."""
        return self.tf_part(tf_flat)

    def encode_gene(self, gene_flat: Tensor) -> Tensor:
        """Gene part ``[B, hidden]`` of the first layer from ``gene_flat`` ``[B, modalities * feature_genes]``."""
        return self.gene_part(gene_flat)

    def latent(self, pre_activation: Tensor) -> Tensor:
        """Latent ``[B, latent]`` from the summed per-side parts ``[B, hidden]``."""
        hidden = F.gelu(pre_activation + self.bias)
        return self.to_latent(self.attention(hidden))

    def token(self, latent: Tensor) -> Tensor:
        """Fusion token ``[B, token_dim]`` from the latent ``[B, latent]``."""
        return self.to_token(F.gelu(latent))

    @staticmethod
    def target(tf_flat: Tensor, gene_flat: Tensor) -> Tensor:
        """What the decoder reconstructs: ``[tf, gene]``, ``[B, 2 * modalities * feature_genes]``."""
        return torch.cat([tf_flat, gene_flat], dim=1)


class AddAutoencoder(nn.Module):
    """Auto-encoder on the element-wise sum tf + gene.

    Per-side state: the shared first layer applied to the side alone, ``[B, hidden]``.
    """

    def __init__(self, config: ModelConfig, input_width: int):
        super().__init__()
        latent = config.ae_latent
        hidden = config.add_hidden or (input_width + latent) // 2
        decoder_hidden = config.decoder_hidden or (input_width + latent) // 2
        self.state_size = hidden
        # Linear(tf + gene) == side(tf) + side(gene) + bias.
        self.side = nn.Linear(input_width, hidden, bias=False)
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.to_latent = nn.Linear(hidden, latent)
        self.to_token = nn.Linear(latent, config.token_dim)
        self.decoder = _decoder(latent, decoder_hidden, input_width)

    def encode_tf(self, side_flat: Tensor) -> Tensor:
        """The shared first layer ``[B, hidden]`` of one side ``[B, modalities * feature_genes]``."""
        return self.side(side_flat)

    encode_gene = encode_tf

    def latent(self, pre_activation: Tensor) -> Tensor:
        """Latent ``[B, latent]`` from the summed per-side parts ``[B, hidden]``."""
        return self.to_latent(F.gelu(pre_activation + self.bias))

    def token(self, latent: Tensor) -> Tensor:
        """Fusion token ``[B, token_dim]`` from the latent ``[B, latent]``."""
        return self.to_token(F.gelu(latent))

    @staticmethod
    def target(tf_flat: Tensor, gene_flat: Tensor) -> Tensor:
        """What the decoder reconstructs: ``tf + gene``, ``[B, modalities * feature_genes]``."""
        return tf_flat + gene_flat


def _conv_length(length: int, kernel: int, stride: int) -> int:
    return (length - kernel) // stride + 1


def _average_pool_matrix(length: int, positions: int) -> Tensor:
    """float32 ``[length, positions]``: column j averages the j-th of ``positions`` near-equal bins."""
    pool = torch.zeros(length, positions)
    for j in range(positions):
        start = (j * length) // positions
        stop = -((-(j + 1) * length) // positions)
        pool[start:stop, j] = 1.0 / (stop - start)
    return pool


class PairCNN(nn.Module):
    """2D-CNN over the 2-row image [tf row; gene row] of a pair, then a 1D-CNN.

    The (2, k) convolution is a 1-row convolution of the TF row plus one of the gene row; the
    average pooling that follows is linear too, so both stay on the entity side. Per-side state:
    ``[B, channels * positions]``. Kernels are clamped to the available length so that models
    over few feature genes still build.
    """

    def __init__(self, config: ModelConfig, n_modalities: int, n_feature_genes: int):
        super().__init__()
        (channels1, channels2), (kernel1, kernel2), (stride1, stride2) = (
            config.cnn_channels,
            config.cnn_kernels,
            config.cnn_strides,
        )
        kernel1 = min(kernel1, n_feature_genes)
        length1 = _conv_length(n_feature_genes, kernel1, stride1)
        positions = min(config.cnn_positions, length1) if config.cnn_positions else length1
        kernel2 = min(kernel2, positions)
        length2 = _conv_length(positions, kernel2, stride2)
        self.channels1, self.positions = channels1, positions
        self.state_size = channels1 * positions
        self.tf_row = nn.Conv1d(n_modalities, channels1, kernel1, stride1, bias=False)
        self.gene_row = nn.Conv1d(n_modalities, channels1, kernel1, stride1, bias=False)
        self.bias = nn.Parameter(torch.zeros(channels1, 1))
        self.conv1d = nn.Conv1d(channels1, channels2, kernel2, stride2)
        # A 1D convolution over a handful of positions is a small banded matrix; onnxruntime runs
        # it far faster as one matrix product over the batch than as per-pair convolutions.
        dense = channels1 * positions * channels2 * length2 <= 2**20
        basis = torch.eye(channels1 * positions).reshape(-1, channels1, positions) if dense else None
        self.register_buffer("basis", basis, persistent=False)
        pool = _average_pool_matrix(length1, positions) if positions != length1 else None
        self.register_buffer("pool", pool, persistent=False)
        self.to_token = nn.Linear(channels2 * length2, config.token_dim)

    def _side(self, conv: nn.Conv1d, features: Tensor) -> Tensor:
        rows = conv(features)
        if self.pool is not None:
            rows = rows @ self.pool
        return rows.reshape(-1, self.state_size)

    def encode_tf(self, tf_features: Tensor) -> Tensor:
        """TF-row convolution, pooled, ``[B, channels * positions]`` from ``[B, modalities, feature_genes]``."""
        return self._side(self.tf_row, tf_features)

    def encode_gene(self, gene_features: Tensor) -> Tensor:
        """Gene-row convolution, pooled, ``[B, channels * positions]`` from ``[B, modalities, feature_genes]``."""
        return self._side(self.gene_row, gene_features)

    def token(self, pre_activation: Tensor) -> Tensor:
        """Token ``[B, token_dim]`` from the summed per-side parts ``[B, channels * positions]``."""
        image = F.gelu(pre_activation.reshape(-1, self.channels1, self.positions) + self.bias)
        if self.basis is None:
            hidden = self.conv1d(image).flatten(1)
        else:
            # The convolution's response to each unit input, flattened (channel, position) like
            # conv1d(image).flatten(1); identical up to float rounding.
            weight = F.conv1d(self.basis, self.conv1d.weight, stride=self.conv1d.stride).flatten(1)
            bias = self.conv1d.bias.repeat_interleave(weight.shape[1] // self.conv1d.out_channels)
            hidden = image.flatten(1) @ weight + bias
        return self.to_token(F.gelu(hidden))


class SiameseTwin(nn.Module):
    """Twin network: the same weights encode each side alone, the sides meet in the head.

    Per-side state: the twin's full output for that side, ``[B, token_dim]``.
    """

    def __init__(self, config: ModelConfig, input_width: int):
        super().__init__()
        width = config.siamese_tokens * config.siamese_token_dim
        self.project = nn.Linear(input_width, width)
        self.attention = ChunkAttention(width, config.siamese_tokens, config.siamese_heads)
        self.out = nn.Linear(width, config.token_dim)
        self.norm = nn.LayerNorm(config.token_dim)
        self.combine = nn.Linear(4 * config.token_dim, config.token_dim)
        self.state_size = config.token_dim

    def encode_tf(self, side_flat: Tensor) -> Tensor:
        """The twin's output ``[B, token_dim]`` for one side ``[B, modalities * feature_genes]``."""
        return self.norm(self.out(self.attention(self.project(side_flat))))

    encode_gene = encode_tf

    def token(self, tf_state: Tensor, gene_state: Tensor) -> Tensor:
        """Fusion token ``[B, token_dim]`` combining the two sides' outputs ``[B, token_dim]``."""
        # Symmetric and difference features let the combination compare the two sides.
        both = torch.cat([tf_state, gene_state, tf_state * gene_state, (tf_state - gene_state).abs()], dim=1)
        return self.combine(both)


class InputTransform(nn.Module):
    """Per-entity input transform: Fisher z of the PCC row, then per-feature standardization.

    ``[B, modalities, feature_genes] -> [B, modalities, feature_genes]``. PCC rows are bounded
    and most of their mass sits near 0, while a gene's row holds 1.0 at its own column; the
    Fisher transform spreads both ends, and standardizing every feature with statistics of the
    training entities puts all inputs on one scale (raw PCC features leave most first-layer
    units nearly idle). The statistics are buffers, saved with the weights and exported, so the
    runtime keeps passing raw PCC rows.
    """

    def __init__(self, config: ModelConfig, n_modalities: int, n_feature_genes: int):
        super().__init__()
        self.enabled = config.input_transform == "fisher_z"
        self.clip = config.fisher_clip
        self.register_buffer("mean", torch.zeros(n_modalities, n_feature_genes))
        self.register_buffer("scale", torch.ones(n_modalities, n_feature_genes))

    def _fisher(self, features: Tensor) -> Tensor:
        return torch.atanh(features.clamp(-self.clip, self.clip))

    @torch.no_grad()
    def fit(self, features: Tensor) -> None:
        """Set the statistics from training entities' features, float32 ``[n, modalities, feature_genes]``."""
        if not self.enabled:
            return
        z = self._fisher(features.float())
        self.mean.copy_(z.mean(dim=0))
        # Features that are constant over the training entities keep unit scale (no blow-up).
        sd = z.std(dim=0, unbiased=False)
        self.scale.copy_(torch.where(sd > 1e-3, sd, torch.ones_like(sd)))

    def forward(self, features: Tensor) -> Tensor:
        """``features`` float32 ``[B, modalities, feature_genes]`` -> same shape, transformed."""
        if not self.enabled:
            return features
        return (self._fisher(features) - self.mean) / self.scale


class PairFeatures(nn.Module):
    """The pair's own correlation as inputs of the head (``config.pair_features``; contract
    ``pair_features``).

    The encoders see each entity's correlations with the feature genes, so the factorized head
    can only combine two entity vectors: the PCC of the TF with its target, which |PCC| ranks by,
    is no input of it. This module turns the raw pair PCC ``r`` (float32 ``[B, modalities, 1]``,
    computed by the runtime) into head inputs per modality: the Fisher z ``z = atanh(r)``
    (clipped like the entity transform), its magnitude ``|z|``, and with ``config.pair_context``
    ``|z|`` standardized against each side's own correlations, ``(|z| - mean_e) / sd_e`` for the
    TF and for the target (CLR's context normalisation; here the context is each entity's
    correlations with the feature genes). The context statistics are per entity, so they are
    computed by the encoders (:meth:`entity_context`) and travel at the end of the states.
    """

    def __init__(self, config: ModelConfig, n_modalities: int):
        super().__init__()
        self.enabled = bool(config.pair_features)
        self.context = self.enabled and config.pair_context
        self.clip = config.fisher_clip
        self.n_modalities = n_modalities
        self.context_size = 2 * n_modalities if self.context else 0
        self.width = n_modalities * (4 if self.context else 2) if self.enabled else 0

    def _magnitude(self, features: Tensor) -> Tensor:
        return torch.atanh(features.clamp(-self.clip, self.clip)).abs()

    def entity_context(self, features: Tensor) -> Tensor:
        """Mean and sd of ``|atanh(r)|`` over the feature genes, float32 ``[B, 2 * modalities]``,
        from raw PCC rows float32 ``[B, modalities, feature_genes]`` (empty without context)."""
        if not self.context:
            return features.new_zeros((features.shape[0], 0))
        magnitude = self._magnitude(features)
        mean = magnitude.mean(dim=2)
        # An entity whose correlations are all equal (constant profile: all 0) keeps unit scale.
        sd = magnitude.std(dim=2, unbiased=False).clamp(min=1e-3)
        return torch.cat([mean, sd], dim=1)

    def forward(self, pair: Tensor, tf_context: Tensor, gene_context: Tensor) -> Tensor:
        """Head inputs float32 ``[B, width]`` from the pair PCC ``[B, modalities, 1]`` and the two
        sides' :meth:`entity_context` ``[B, context_size]``."""
        r = pair[..., 0]
        z = torch.atanh(r.clamp(-self.clip, self.clip))
        magnitude = z.abs()
        parts = [z, magnitude]
        if self.context:
            m = self.n_modalities
            parts.append((magnitude - tf_context[:, :m]) / tf_context[:, m:])
            parts.append((magnitude - gene_context[:, :m]) / gene_context[:, m:])
        return torch.cat(parts, dim=1)


class DeepTGI(nn.Module):
    """DeepTGI with per-entity encoders and a pair head.

    Args:
        config: architecture (see :class:`deeptgi_train.configs.ModelConfig`).
        n_modalities: expression modalities per entity (rows of the feature input).
        n_feature_genes: feature genes (columns of the feature input).
    """

    def __init__(self, config: ModelConfig, n_modalities: int, n_feature_genes: int):
        super().__init__()
        if n_modalities < 1 or n_feature_genes < 2:
            raise ValueError(
                f"DeepTGI needs >= 1 modality and >= 2 feature genes, got {n_modalities}, {n_feature_genes}"
            )
        self.config = config
        self.n_modalities = n_modalities
        self.n_feature_genes = n_feature_genes
        width = n_modalities * n_feature_genes
        self.input_transform = InputTransform(config, n_modalities, n_feature_genes)
        builders = {
            "autoencoder": lambda: ConcatAutoencoder(config, width),
            "cnn": lambda: PairCNN(config, n_modalities, n_feature_genes),
            "siamese": lambda: SiameseTwin(config, width),
            "add_autoencoder": lambda: AddAutoencoder(config, width),
        }
        # Canonical branch order fixes the layout of the state vector whatever order the config lists.
        self.branch_names = tuple(name for name in BRANCHES if name in config.branches)
        self.branches = nn.ModuleDict({name: builders[name]() for name in self.branch_names})
        self.state_sizes = tuple(self.branches[name].state_size for name in self.branch_names)
        self.pair = PairFeatures(config, n_modalities)
        self.branch_state_size = sum(self.state_sizes)
        # The pair features' entity context rides at the end of each state.
        self.state_size = self.branch_state_size + self.pair.context_size
        n_tokens = len(self.branch_names) + 1
        self.fusion = nn.ModuleList(
            FusionLayer(config.token_dim, config.fusion_heads, config.fusion_ff, config.dropout)
            for _ in range(config.fusion_layers if config.fusion == "attention" else 0)
        )
        self.mlp = nn.Sequential(
            nn.Linear(n_tokens * config.token_dim + self.pair.width, config.mlp_hidden),
            nn.BatchNorm1d(config.mlp_hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.mlp_hidden, 1),
        )

    def _encode(self, features: Tensor, side: str) -> Tensor:
        """State of one side from its transformed features ``[B, modalities, feature_genes]``."""
        flat = features.reshape(-1, self.n_modalities * self.n_feature_genes)
        parts = []
        for name in self.branch_names:
            branch = self.branches[name]
            encode = branch.encode_tf if side == "tf" else branch.encode_gene
            parts.append(encode(features if name == "cnn" else flat))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def _with_context(self, state: Tensor, features: Tensor) -> Tensor:
        """``state`` followed by the pair features' context of the raw ``features`` (when used)."""
        if not self.pair.context:
            return state
        return torch.cat([state, self.pair.entity_context(features)], dim=1)

    def encode_tf(self, tf_features: Tensor) -> Tensor:
        """TF state float32 ``[B, state_size]`` from ``tf_features`` float32 ``[B, modalities, feature_genes]``."""
        return self._with_context(self._encode(self.input_transform(tf_features), "tf"), tf_features)

    def encode_gene(self, gene_features: Tensor) -> Tensor:
        """Gene state float32 ``[B, state_size]`` from ``gene_features`` float32 ``[B, modalities, feature_genes]``."""
        return self._with_context(self._encode(self.input_transform(gene_features), "gene"), gene_features)

    def _head(
        self, tf_state: Tensor, gene_state: Tensor, pair: Tensor | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        tokens, latents = [], {}
        if self.pair.enabled and pair is None:
            raise ValueError("this network scores pairs from their pair features: pass pair")
        branch = self.branch_state_size
        tf_context, gene_context = tf_state[:, branch:], gene_state[:, branch:]
        tf_state, gene_state = tf_state[:, :branch], gene_state[:, :branch]
        # Every branch but the twin starts with a layer that is linear in each side, so its
        # pre-activation is the sum of the two sides' parts; one addition serves them all.
        summed_parts = (tf_state + gene_state).split(self.state_sizes, dim=1)
        offsets = [sum(self.state_sizes[:i]) for i in range(len(self.state_sizes))]
        for name, summed, offset in zip(self.branch_names, summed_parts, offsets):
            branch = self.branches[name]
            if name == "siamese":
                end = offset + branch.state_size
                tokens.append(branch.token(tf_state[:, offset:end], gene_state[:, offset:end]))
            elif name == "cnn":
                tokens.append(branch.token(summed))
            else:
                latents[name] = branch.latent(summed)
                tokens.append(branch.token(latents[name]))
        total = tokens[0]
        for token in tokens[1:]:
            total = total + token
        sequence = torch.stack(tokens + [total], dim=1)
        for layer in self.fusion:
            sequence = layer(sequence)
        head_input = sequence.flatten(1)
        if self.pair.enabled:
            head_input = torch.cat([head_input, self.pair(pair, tf_context, gene_context)], dim=1)
        logits = self.mlp(head_input).squeeze(-1)
        return logits, latents

    def head(self, tf_state: Tensor, gene_state: Tensor, pair: Tensor | None = None) -> Tensor:
        """Logits float32 ``[B]`` of the pairs whose states are float32 ``[B, state_size]`` each
        (and, for a network with pair features, whose pair PCC is float32 ``[B, modalities, 1]``)."""
        return self._head(tf_state, gene_state, pair)[0]

    def forward(self, tf_features: Tensor, gene_features: Tensor, pair: Tensor | None = None) -> Tensor:
        """Logits float32 ``[B]`` for feature inputs float32 ``[B, modalities, feature_genes]`` each
        (and the pair features float32 ``[B, modalities, 1]`` when the network uses them)."""
        return self.head(self.encode_tf(tf_features), self.encode_gene(gene_features), pair)

    def forward_train(
        self,
        tf_features: Tensor,
        gene_features: Tensor,
        input_noise: float = 0.0,
        mixup: tuple[float, Tensor] | None = None,
        pair: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``(logits float32 [B], reconstruction MSE scalar)``.

        The MSE averages the auto-encoders' reconstruction errors of their inputs (the
        concatenation [tf, gene] and the sum tf + gene); it is 0 when no auto-encoder is active.
        ``mixup = (lam, partner)`` blends every pair with pair ``partner[i]`` (int64 ``[B]``) of
        the batch, ``lam * own + (1 - lam) * partner``, after the input transform: blending raw
        PCC rows and then transforming would distort the Fisher z of the strong correlations.
        ``input_noise`` > 0 then adds Gaussian noise of that sd to the blended features before
        the encoders; the auto-encoders still reconstruct the clean (blended) features. ``pair``
        (float32 ``[B, modalities, 1]``, for a network with pair features) and the entities'
        pair context are blended with the same weight and partners; they get no noise.
        """
        return self.forward_train_transformed(
            self.input_transform(tf_features),
            self.input_transform(gene_features),
            input_noise,
            mixup,
            pair=pair,
            tf_context=self.pair.entity_context(tf_features),
            gene_context=self.pair.entity_context(gene_features),
        )

    def forward_train_transformed(
        self,
        tf_features: Tensor,
        gene_features: Tensor,
        input_noise: float = 0.0,
        mixup: tuple[float, Tensor] | None = None,
        *,
        pair: Tensor | None = None,
        tf_context: Tensor | None = None,
        gene_context: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """:meth:`forward_train` on features already through :attr:`input_transform`; the pair
        context of each side (:meth:`PairFeatures.entity_context` of its raw features) is passed
        in, since it is computed before the transform."""
        batch = tf_features.shape[0]
        if tf_context is None:
            tf_context = tf_features.new_zeros((batch, 0))
        if gene_context is None:
            gene_context = gene_features.new_zeros((batch, 0))
        if mixup is not None:
            lam, partner = mixup

            def blend(values: Tensor | None) -> Tensor | None:
                return None if values is None else lam * values + (1 - lam) * values[partner]

            tf_features, gene_features, pair = blend(tf_features), blend(gene_features), blend(pair)
            tf_context, gene_context = blend(tf_context), blend(gene_context)
        tf_noisy, gene_noisy = tf_features, gene_features
        if input_noise > 0:
            tf_noisy = tf_features + input_noise * torch.randn_like(tf_features)
            gene_noisy = gene_features + input_noise * torch.randn_like(gene_features)
        logits, latents = self._head(
            torch.cat([self._encode(tf_noisy, "tf"), tf_context], dim=1),
            torch.cat([self._encode(gene_noisy, "gene"), gene_context], dim=1),
            pair,
        )
        width = self.n_modalities * self.n_feature_genes
        tf_flat, gene_flat = tf_features.reshape(-1, width), gene_features.reshape(-1, width)
        errors = [
            F.mse_loss(self.branches[name].decoder(latent), self.branches[name].target(tf_flat, gene_flat))
            for name, latent in latents.items()
        ]
        reconstruction = torch.stack(errors).mean() if errors else logits.new_zeros(())
        return logits, reconstruction


class DeepTGIEnsemble(nn.Module):
    """``config.members`` DeepTGI networks trained side by side; the score averages their logits.

    The ensemble keeps the factorization: an entity's state is its members' states one after
    the other (``[B, members * member_state_size]``) and the head runs each member's head on its
    slice, so genome-scale scoring still runs the encoders once per entity. The members share
    one input transform (fit once on the training entities) and differ by initialization and
    training noise.

    Args:
        config: architecture of every member; ``config.members`` >= 2 of them.
        n_modalities, n_feature_genes: as for :class:`DeepTGI`.
    """

    def __init__(self, config: ModelConfig, n_modalities: int, n_feature_genes: int):
        super().__init__()
        if config.members < 2:
            raise ValueError(f"an ensemble needs >= 2 members, got {config.members}")
        self.config = config
        self.n_modalities = n_modalities
        self.n_feature_genes = n_feature_genes
        self.members = nn.ModuleList(DeepTGI(config, n_modalities, n_feature_genes) for _ in range(config.members))
        # One shared transform: the same module object in every member.
        self.input_transform = self.members[0].input_transform
        for member in self.members[1:]:
            member.input_transform = self.input_transform
        self.member_state_size = self.members[0].state_size
        self.state_size = config.members * self.member_state_size

    def _encode(self, features: Tensor, side: str) -> Tensor:
        # The shared transform runs once, not once per member.
        transformed = self.input_transform(features)
        context = self.members[0].pair.entity_context(features)
        return torch.cat(
            [torch.cat([member._encode(transformed, side), context], dim=1) for member in self.members], dim=1
        )

    def encode_tf(self, tf_features: Tensor) -> Tensor:
        """TF state float32 ``[B, state_size]`` from ``tf_features`` float32 ``[B, modalities, feature_genes]``."""
        return self._encode(tf_features, "tf")

    def encode_gene(self, gene_features: Tensor) -> Tensor:
        """Gene state float32 ``[B, state_size]`` from ``gene_features`` float32 ``[B, modalities, feature_genes]``."""
        return self._encode(gene_features, "gene")

    def head(self, tf_state: Tensor, gene_state: Tensor, pair: Tensor | None = None) -> Tensor:
        """Mean of the members' logits, float32 ``[B]``, from states float32 ``[B, state_size]`` each
        (and the pair features, see :meth:`DeepTGI.head`)."""
        size = self.member_state_size
        logits = [
            member.head(tf_state[:, i * size : (i + 1) * size], gene_state[:, i * size : (i + 1) * size], pair)
            for i, member in enumerate(self.members)
        ]
        return torch.stack(logits).mean(dim=0)

    def forward(self, tf_features: Tensor, gene_features: Tensor, pair: Tensor | None = None) -> Tensor:
        """Logits float32 ``[B]`` for feature inputs float32 ``[B, modalities, feature_genes]`` each."""
        return self.head(self.encode_tf(tf_features), self.encode_gene(gene_features), pair)

    def forward_train(
        self,
        tf_features: Tensor,
        gene_features: Tensor,
        input_noise: float = 0.0,
        mixup: tuple[float, Tensor] | None = None,
        pair: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``(logits float32 [members, B], reconstruction MSE scalar)``.

        Each member is trained on its own logits (not on the average, which would let the
        members lean on each other) with its own input noise; the reconstruction loss is the
        members' mean. See :meth:`DeepTGI.forward_train` for ``input_noise`` and ``mixup``.
        """
        context = self.members[0].pair
        tf_context, gene_context = context.entity_context(tf_features), context.entity_context(gene_features)
        tf_features, gene_features = self.input_transform(tf_features), self.input_transform(gene_features)
        outputs = [
            member.forward_train_transformed(
                tf_features,
                gene_features,
                input_noise,
                mixup,
                pair=pair,
                tf_context=tf_context,
                gene_context=gene_context,
            )
            for member in self.members
        ]
        return torch.stack([logits for logits, _ in outputs]), torch.stack([error for _, error in outputs]).mean()


def build_deeptgi(config: ModelConfig, n_modalities: int, n_feature_genes: int) -> DeepTGI | DeepTGIEnsemble:
    """A fresh network for ``config``: :class:`DeepTGI`, or :class:`DeepTGIEnsemble` when ``config.members`` > 1."""
    if config.members > 1:
        return DeepTGIEnsemble(config, n_modalities, n_feature_genes)
    return DeepTGI(config, n_modalities, n_feature_genes)
