"""The DeepTGI network: shapes, factorization into encoders + head, batch independence, training outputs."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")

from deeptgi_train.configs import ABLATIONS, BRANCHES, ModelConfig, model_config  # noqa: E402
from deeptgi_train.model import DeepTGI, DeepTGIEnsemble, build_deeptgi  # noqa: E402

torch.set_num_threads(2)

N_GENES = 12
BRANCH_SETS = [combo for size in range(1, len(BRANCHES) + 1) for combo in itertools.combinations(BRANCHES, size)]


def pcc_like(pairs: int, modalities: int, genes: int = N_GENES, seed: int = 0) -> torch.Tensor:
    """float32 [pairs, modalities, genes] uniform in [-1, 1], like PCC rows."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(pairs, modalities, genes, generator=generator) * 2 - 1


def trained_statistics(model: DeepTGI, modalities: int) -> DeepTGI:
    """Give the input transform and batch norm non-trivial statistics, then switch to eval mode."""
    model.input_transform.fit(pcc_like(40, modalities, seed=13) * 0.7 + 0.1)
    model.train()
    pair = pcc_like(64, modalities, genes=1, seed=14) if model.config.pair_features else None
    with torch.no_grad():
        model(pcc_like(64, modalities, seed=11) * 3, pcc_like(64, modalities, seed=12) + 0.5, pair)
    return model.eval()


@pytest.mark.parametrize("modalities", [1, 2])
@pytest.mark.parametrize("fusion", ["attention", "mlp"])
@pytest.mark.parametrize("branches", BRANCH_SETS, ids="+".join)
def test_forward_shapes_for_every_branch_combination(branches, fusion, modalities):
    torch.manual_seed(0)
    model = DeepTGI(model_config("tiny", branches=branches, fusion=fusion), modalities, N_GENES)
    tf_features, gene_features = pcc_like(5, modalities, seed=1), pcc_like(5, modalities, seed=2)
    logits, reconstruction = model.forward_train(tf_features, gene_features)
    assert logits.shape == (5,) and logits.dtype == torch.float32
    assert reconstruction.shape == ()
    has_autoencoder = bool({"autoencoder", "add_autoencoder"} & set(branches))
    assert (reconstruction.item() > 0) == has_autoencoder
    model.eval()
    assert model(tf_features, gene_features).shape == (5,)
    assert model.encode_tf(tf_features).shape == (5, model.state_size)
    assert model.encode_gene(gene_features).shape == (5, model.state_size)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize(
    "config",
    [
        model_config("tiny"),
        model_config("tiny", branches=("cnn", "siamese"), fusion="mlp"),
        model_config("lite"),
    ],
    ids=["tiny-full", "tiny-cnn+siamese-mlp", "lite"],
)
def test_head_on_separately_encoded_states_equals_forward(config):
    torch.manual_seed(1)
    model = trained_statistics(DeepTGI(config, 2, N_GENES), 2)
    tfs, genes = pcc_like(3, 2, seed=3), pcc_like(7, 2, seed=4)
    with torch.no_grad():
        # Encode each entity once, in its own batch, as genome-scale scoring does.
        tf_states, gene_states = model.encode_tf(tfs), model.encode_gene(genes)
        tf_index, gene_index = torch.meshgrid(torch.arange(3), torch.arange(7), indexing="ij")
        tf_index, gene_index = tf_index.reshape(-1), gene_index.reshape(-1)
        pair = pcc_like(21, 2, genes=1, seed=5) if config.pair_features else None
        factorized = model.head(tf_states[tf_index], gene_states[gene_index], pair)
        direct = model(tfs[tf_index], genes[gene_index], pair)
    torch.testing.assert_close(factorized, direct, rtol=0, atol=1e-6)


def test_states_depend_only_on_their_own_side():
    torch.manual_seed(2)
    model = trained_statistics(DeepTGI(model_config("tiny"), 1, N_GENES), 1)
    tf_features = pcc_like(4, 1, seed=5).requires_grad_(True)
    gene_features = pcc_like(4, 1, seed=6).requires_grad_(True)
    tf_state, gene_state = model.encode_tf(tf_features), model.encode_gene(gene_features)
    score = torch.sigmoid(model.head(tf_state, gene_state)).sum()
    # The score reaches the inputs only through the states: its gradient w.r.t. the inputs
    # equals the gradient pulled back through each state alone.
    d_tf_state, d_gene_state, d_tf, d_gene = torch.autograd.grad(
        score, [tf_state, gene_state, tf_features, gene_features], retain_graph=True
    )
    (via_tf_state,) = torch.autograd.grad(tf_state, tf_features, d_tf_state, retain_graph=True)
    (via_gene_state,) = torch.autograd.grad(gene_state, gene_features, d_gene_state)
    torch.testing.assert_close(d_tf, via_tf_state)
    torch.testing.assert_close(d_gene, via_gene_state)
    assert d_tf.abs().sum() > 0 and d_gene.abs().sum() > 0


def test_cnn_branch_equals_a_two_row_convolution_over_the_stacked_pair():
    torch.manual_seed(3)
    config = model_config("tiny", branches=("cnn",), cnn_positions=0)
    cnn = DeepTGI(config, 2, N_GENES).branches["cnn"]
    tf_features, gene_features = pcc_like(4, 2, seed=7), pcc_like(4, 2, seed=8)
    reference = torch.nn.Conv2d(
        2, cnn.tf_row.out_channels, (2, cnn.tf_row.kernel_size[0]), stride=(1, cnn.tf_row.stride[0]), bias=False
    )
    with torch.no_grad():
        reference.weight.copy_(torch.stack([cnn.tf_row.weight, cnn.gene_row.weight], dim=2))
        image = torch.stack([tf_features, gene_features], dim=2)  # [pairs, modalities, 2 rows, genes]
        expected = reference(image).squeeze(2).flatten(1)
        factorized = cnn.encode_tf(tf_features) + cnn.encode_gene(gene_features)
    torch.testing.assert_close(factorized, expected, rtol=0, atol=1e-6)


def test_cnn_head_matrix_product_equals_the_1d_convolution():
    torch.manual_seed(7)
    cnn = DeepTGI(model_config("tiny", branches=("cnn",), cnn_positions=6), 1, N_GENES).branches["cnn"]
    assert cnn.basis is not None
    summed = pcc_like(5, 1, genes=cnn.state_size, seed=17).flatten(1)
    with torch.no_grad():
        as_matrix = cnn.token(summed)
        cnn.basis = None  # fall back to the convolution itself
        as_convolution = cnn.token(summed)
    torch.testing.assert_close(as_matrix, as_convolution, rtol=0, atol=1e-6)


def test_autoencoder_first_layer_equals_a_linear_layer_on_the_concatenation():
    torch.manual_seed(4)
    autoencoder = DeepTGI(model_config("tiny", branches=("autoencoder",)), 1, N_GENES).branches["autoencoder"]
    tf_flat, gene_flat = pcc_like(4, 1, seed=9).flatten(1), pcc_like(4, 1, seed=10).flatten(1)
    weight = torch.cat([autoencoder.tf_part.weight, autoencoder.gene_part.weight], dim=1)
    with torch.no_grad():
        expected = torch.cat([tf_flat, gene_flat], dim=1) @ weight.T
        factorized = autoencoder.encode_tf(tf_flat) + autoencoder.encode_gene(gene_flat)
    torch.testing.assert_close(factorized, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("fusion", ["attention", "mlp"])
def test_pair_scored_alone_equals_it_inside_a_shuffled_batch(fusion):
    torch.manual_seed(5)
    model = trained_statistics(DeepTGI(model_config("tiny", fusion=fusion), 2, N_GENES), 2)
    tfs, genes = pcc_like(500, 2, seed=13), pcc_like(500, 2, seed=14)
    order = torch.randperm(500)
    with torch.no_grad():
        batch = model(tfs[order], genes[order])
        position = int((order == 0).nonzero())
        alone = model(tfs[:1], genes[:1])
    assert abs(batch[position].item() - alone.item()) <= 1e-6
    assert batch.std() > 0


@pytest.mark.parametrize("fusion", ["attention", "mlp"])
def test_forward_train_gives_finite_reconstruction_loss_and_gradients_reach_every_branch(fusion):
    torch.manual_seed(6)
    model = DeepTGI(model_config("tiny", fusion=fusion), 2, N_GENES).train()
    tf_features, gene_features = pcc_like(16, 2, seed=15), pcc_like(16, 2, seed=16)
    labels = (torch.arange(16) % 2).float()
    logits, reconstruction = model.forward_train(tf_features, gene_features)
    assert reconstruction.ndim == 0 and torch.isfinite(reconstruction)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels) + reconstruction
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_lite_fits_the_genome_scale_budget():
    model = DeepTGI(model_config("lite"), 1, 1000)
    assert model.state_size <= 256
    # The twin branch's full output and every branch's factorized part are on the entity side.
    assert len(model.state_sizes) == len(BRANCHES)


def test_kernels_are_clamped_for_few_feature_genes():
    model = DeepTGI(model_config("paper", ae_latent=16, token_dim=16, siamese_token_dim=16, mlp_hidden=8), 1, 19)
    assert model(pcc_like(3, 1, genes=19), pcc_like(3, 1, genes=19, seed=1)).shape == (3,)


def test_config_round_trips_through_a_dict_and_applies_ablations():
    for step, overrides in ABLATIONS.items():
        config = model_config("lite", **overrides)
        assert ModelConfig.from_dict(config.to_dict()) == config, step
    assert model_config("lite", **ABLATIONS["cnn"]).branches == ("cnn",)
    assert model_config("paper").to_dict()["training"]["optimizer"] == "RAdam"


@pytest.mark.parametrize(
    "bad",
    [
        {"branches": ()},
        {"branches": ("cnn", "lstm")},
        {"fusion": "sum"},
        {"token_dim": 30, "fusion_heads": 4},
        {"dropout": 1.0},
        {"colour": "blue"},
        {"input_transform": "rank"},
        {"fisher_clip": 1.0},
    ],
)
def test_invalid_configs_are_rejected(bad):
    with pytest.raises(ValueError):
        model_config("tiny", **bad)
    with pytest.raises(ValueError, match="unknown model config"):
        model_config("huge")


def test_input_transform_standardizes_the_fisher_z_of_the_training_entities():
    model = DeepTGI(model_config("tiny"), 2, N_GENES)
    training = pcc_like(50, 2, seed=20) * 0.8
    training[:, :, 3] = 0.25  # a feature constant over the training entities
    training[0, 0, 5] = 1.0  # a gene's correlation with itself
    model.input_transform.fit(training)
    transformed = model.input_transform(training)
    z = torch.atanh(training.clamp(-0.999, 0.999)).double()
    expected = (z - z.mean(0)) / torch.where(z.std(0, unbiased=False) > 1e-3, z.std(0, unbiased=False), 1.0)
    torch.testing.assert_close(transformed.double(), expected, atol=1e-4, rtol=1e-4)
    assert torch.isfinite(transformed).all()
    varying = torch.ones(2, N_GENES, dtype=torch.bool)
    varying[:, 3] = False
    torch.testing.assert_close(
        transformed.std(0, unbiased=False)[varying], torch.ones(int(varying.sum())), atol=1e-4, rtol=0
    )
    # The constant feature is centred, not divided by ~0.
    assert transformed[:, :, 3].abs().max() < 1e-5


def test_input_transform_none_feeds_the_raw_pcc_rows():
    model = DeepTGI(model_config("tiny", input_transform="none"), 1, N_GENES)
    features = pcc_like(7, 1, seed=21)
    model.input_transform.fit(features * 0.5)
    assert torch.equal(model.input_transform(features), features)


def test_input_statistics_travel_with_the_weights():
    source = DeepTGI(model_config("tiny"), 1, N_GENES)
    source.input_transform.fit(pcc_like(30, 1, seed=22))
    copy = DeepTGI(model_config("tiny"), 1, N_GENES)
    copy.load_state_dict(source.state_dict())
    assert torch.equal(copy.input_transform.mean, source.input_transform.mean)
    assert torch.equal(copy.input_transform.scale, source.input_transform.scale)


def test_input_noise_perturbs_training_but_reconstruction_targets_stay_clean():
    torch.manual_seed(7)
    model = DeepTGI(model_config("tiny", branches=("add_autoencoder",), fusion="mlp", dropout=0.0), 1, N_GENES)
    model.eval()  # batch norm on running statistics, so only the noise can change the output
    tf_features, gene_features = pcc_like(9, 1, seed=23), pcc_like(9, 1, seed=24)
    clean_logits, _ = model.forward_train(tf_features, gene_features)
    torch.testing.assert_close(clean_logits, model(tf_features, gene_features))
    noisy_logits, _ = model.forward_train(tf_features, gene_features, input_noise=0.5)
    assert not torch.allclose(noisy_logits, clean_logits)
    # Replay the same noise by hand: the decoder must be scored against the clean features.
    torch.manual_seed(8)
    logits, reconstruction = model.forward_train(tf_features, gene_features, input_noise=0.5)
    torch.manual_seed(8)
    tf_clean, gene_clean = model.input_transform(tf_features), model.input_transform(gene_features)
    tf_noisy = tf_clean + 0.5 * torch.randn_like(tf_clean)
    gene_noisy = gene_clean + 0.5 * torch.randn_like(gene_clean)
    branch = model.branches["add_autoencoder"]
    latent = branch.latent(branch.encode_tf(tf_noisy.flatten(1)) + branch.encode_gene(gene_noisy.flatten(1)))
    expected = torch.nn.functional.mse_loss(branch.decoder(latent), tf_clean.flatten(1) + gene_clean.flatten(1))
    torch.testing.assert_close(reconstruction, expected)
    noisy_target = torch.nn.functional.mse_loss(branch.decoder(latent), tf_noisy.flatten(1) + gene_noisy.flatten(1))
    assert not torch.allclose(reconstruction, noisy_target)


def test_mixup_blends_the_transformed_features_and_the_reconstruction_targets():
    torch.manual_seed(9)
    model = DeepTGI(model_config("tiny", branches=("add_autoencoder",), fusion="mlp", dropout=0.0), 1, N_GENES)
    model.input_transform.fit(pcc_like(30, 1, seed=25) * 0.8)
    model.eval()
    tf_features, gene_features = pcc_like(6, 1, seed=26), pcc_like(6, 1, seed=27)
    partner = torch.tensor([3, 0, 5, 1, 2, 4])
    logits, reconstruction = model.forward_train(tf_features, gene_features, mixup=(0.3, partner))
    tf_z, gene_z = model.input_transform(tf_features), model.input_transform(gene_features)
    tf_mixed = 0.3 * tf_z + 0.7 * tf_z[partner]
    gene_mixed = 0.3 * gene_z + 0.7 * gene_z[partner]
    branch = model.branches["add_autoencoder"]
    latent = branch.latent(branch.encode_tf(tf_mixed.flatten(1)) + branch.encode_gene(gene_mixed.flatten(1)))
    torch.testing.assert_close(logits, model.head(model._encode(tf_mixed, "tf"), model._encode(gene_mixed, "gene")))
    expected = torch.nn.functional.mse_loss(branch.decoder(latent), tf_mixed.flatten(1) + gene_mixed.flatten(1))
    torch.testing.assert_close(reconstruction, expected)
    # Blending raw PCC rows first is a different (non-linear) input: the order matters.
    raw_logits, _ = model.forward_train(
        0.3 * tf_features + 0.7 * tf_features[partner], 0.3 * gene_features + 0.7 * gene_features[partner]
    )
    assert not torch.allclose(raw_logits, logits)


def test_ensemble_scores_the_mean_of_its_members_logits_and_stays_batch_independent():
    torch.manual_seed(5)
    config = model_config("tiny", members=3)
    model = build_deeptgi(config, 2, N_GENES)
    assert isinstance(model, DeepTGIEnsemble) and isinstance(build_deeptgi(model_config("tiny"), 2, N_GENES), DeepTGI)
    model.input_transform.fit(pcc_like(40, 2, seed=30) * 0.6)
    # One transform object serves every member: fitting it once fits them all.
    assert all(member.input_transform is model.input_transform for member in model.members)
    model.train()
    with torch.no_grad():
        model(pcc_like(64, 2, seed=31) * 2, pcc_like(64, 2, seed=32))
    model.eval()
    tf_features, gene_features = pcc_like(50, 2, seed=33), pcc_like(50, 2, seed=34)
    with torch.no_grad():
        members = torch.stack([member(tf_features, gene_features) for member in model.members])
        logits = model(tf_features, gene_features)
        assert model.encode_tf(tf_features).shape == (50, 3 * model.members[0].state_size)
        torch.testing.assert_close(logits, members.mean(dim=0))
        assert not torch.allclose(members[0], members[1])  # members differ by initialization
        alone = model(tf_features[7:8], gene_features[7:8])
    torch.testing.assert_close(alone, logits[7:8], rtol=0, atol=1e-6)


def test_ensemble_training_gives_every_member_its_own_logits_and_gradients():
    torch.manual_seed(6)
    model = build_deeptgi(model_config("tiny", members=2), 1, N_GENES).train()
    logits, reconstruction = model.forward_train(pcc_like(16, 1, seed=35), pcc_like(16, 1, seed=36), input_noise=0.3)
    assert logits.shape == (2, 16) and reconstruction.ndim == 0
    (logits.sum() + reconstruction).backward()
    for member in model.members:
        assert member.mlp[0].weight.grad is not None and member.mlp[0].weight.grad.abs().sum() > 0


def test_members_below_one_are_refused():
    with pytest.raises(ValueError, match="members"):
        model_config("tiny", members=0)
