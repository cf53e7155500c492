"""The AIF and DLFA kernels: hand-computed values, padding and batch invariances, gradients, errors."""

import math

import pytest
import torch
from torch import nn

from dlfa.training.aif import AIF, DLFA, MaskedBatchNorm1d


def _identity_norms(module: nn.Module) -> None:
    """Make every BatchNorm an exact identity in eval mode: running mean 0, var 1 - eps."""
    for bn in module.modules():
        if isinstance(bn, MaskedBatchNorm1d):
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.data.fill_(1.0)
            bn.bias.data.zero_()


def _padded(lengths, T, E, fill=0.0, seed=0):
    """A batch (B, T, E) whose valid tokens come from one fixed generator, padding = fill."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((len(lengths), T, E), fill)
    for i, n in enumerate(lengths):
        x[i, :n] = torch.randn(n, E, generator=g)
    mask = torch.zeros(len(lengths), T, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    return x, mask


class TestHandComputed:
    def test_two_tokens_four_dims(self):
        # W (1, 2, 4); r = 2 -> bottleneck width 2; norms are identities; weights set by hand.
        aif = AIF(4, reduction=2).eval()
        _identity_norms(aif)
        with torch.no_grad():
            aif.local_att.down.weight.copy_(torch.tensor([[1., 0, 0, 0], [0, 1, 0, 0]]))
            aif.local_att.up.weight.copy_(torch.tensor([[1., 0], [0, 1], [1, 1], [-1, 0]]))
            aif.global_att.down.weight.copy_(torch.tensor([[0., 0, 1, 0], [0, 0, 0, 1]]))
            aif.global_att.up.weight.copy_(torch.tensor([[1., 0], [0, 0], [0, 0], [0, -1]]))
        x = torch.tensor([[[1., 0, 2, -1], [3, 2, 0, 1]]])
        # local:  token 1: down -> [1, 0], relu [1, 0], up -> [1, 0, 1, -1]
        #         token 2: down -> [3, 2], relu [3, 2], up -> [3, 2, 5, -3]
        # global: mean x = [2, 1, 1, 0]; down -> [1, 0]; relu [1, 0]; up -> [1, 0, 0, 0]
        logits = torch.tensor([[[2., 0, 1, -1], [4, 2, 5, -3]]])
        expected = 1 / (1 + torch.exp(-logits))
        torch.testing.assert_close(aif(x), expected)
        assert math.isclose(aif(x)[0, 1, 2].item(), 1 / (1 + math.exp(-5)), rel_tol=1e-6)

    def test_zero_weights_give_half_and_the_average(self):
        dlfa = DLFA(4, reduction=2).eval()
        _identity_norms(dlfa)
        for lin in dlfa.modules():
            if isinstance(lin, nn.Linear):
                nn.init.zeros_(lin.weight)
        low = torch.tensor([[[1., 2, 3, 4], [0, 0, 0, 0]]])
        last = torch.tensor([[[3., 2, 1, 0], [4, 4, 4, 4]]])
        torch.testing.assert_close(dlfa.aif((low + last) / 2), torch.full((1, 2, 4), 0.5))
        torch.testing.assert_close(dlfa(low, last), (low + last) / 2)

    def test_scaled_weight_is_the_posters_literal_formula(self):
        dlfa = DLFA(4, reduction=2, weight="scaled").eval()
        _identity_norms(dlfa)
        for lin in dlfa.modules():
            if isinstance(lin, nn.Linear):
                nn.init.zeros_(lin.weight)
        low = torch.tensor([[[1., 2, 3, 4]]])
        last = torch.tensor([[[3., 2, 1, 0]]])
        w = (low + last) / 2 * 0.5  # W * M with M = 0.5; W = [2, 2, 2, 2]
        torch.testing.assert_close(dlfa(low, last), w * low + (1 - w) * last)
        torch.testing.assert_close(dlfa(low, last), torch.tensor([[[1., 2, 3, 4]]]))  # w = 1

    def test_linear_equals_pointwise_conv1d(self):
        # The design writes the branches as Conv1d(kernel 1); nn.Linear is the same map.
        aif = AIF(8, reduction=4).eval()
        x = torch.randn(2, 5, 8)
        conv = nn.Conv1d(8, 2, kernel_size=1, bias=False)
        conv.weight.data.copy_(aif.local_att.down.weight.unsqueeze(-1))
        torch.testing.assert_close(conv(x.transpose(1, 2)).transpose(1, 2), aif.local_att.down(x))


class TestMaskedBatchNorm:
    def test_matches_batchnorm1d_on_valid_rows(self):
        torch.manual_seed(0)
        ours, ref = MaskedBatchNorm1d(6), nn.BatchNorm1d(6)
        for bn in (ours, ref):
            bn.weight.data.uniform_(0.5, 2)
            bn.bias.data.uniform_(-1, 1)
        ref.load_state_dict(ours.state_dict())
        x, mask = _padded([3, 5, 1], T=5, E=6, fill=7.0)
        out = ours(x, mask)
        expected = ref(x[mask.bool()])
        torch.testing.assert_close(out[mask.bool()], expected)
        torch.testing.assert_close(ours.running_mean, ref.running_mean)
        torch.testing.assert_close(ours.running_var, ref.running_var)
        assert ours.num_batches_tracked.item() == ref.num_batches_tracked.item() == 1
        ours.eval(), ref.eval()
        torch.testing.assert_close(ours(x)[mask.bool()], ref(x[mask.bool()]))

    def test_single_valid_row_in_training_uses_running_stats(self):
        bn = MaskedBatchNorm1d(3)
        bn.running_mean.fill_(1.0)
        bn.running_var.fill_(4.0)
        out = bn(torch.tensor([[3.0, 1.0, -1.0]]))
        torch.testing.assert_close(out, torch.tensor([[1.0, 0.0, -1.0]]) / torch.sqrt(torch.tensor(1 + 1e-5 / 4)))
        assert bn.num_batches_tracked.item() == 0
        torch.testing.assert_close(bn.running_var, torch.full((3,), 4.0))


@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("iterative", [False, True])
class TestInvariances:
    def test_padding_never_changes_valid_positions_in_training(self, norm, iterative):
        torch.manual_seed(0)
        a, b = DLFA(8, norm=norm, iterative=iterative), DLFA(8, norm=norm, iterative=iterative)
        b.load_state_dict(a.state_dict())
        low_s, mask_s = _padded([3, 5], T=5, E=8, seed=1)
        last_s, _ = _padded([3, 5], T=5, E=8, seed=2)
        low_l, mask_l = _padded([3, 5], T=9, E=8, fill=float("nan"), seed=1)
        last_l, _ = _padded([3, 5], T=9, E=8, fill=1e6, seed=2)
        out_s = a(low_s, last_s, mask_s)
        out_l = b(low_l, last_l, mask_l)
        torch.testing.assert_close(out_l[mask_l.bool()], out_s[mask_s.bool()])
        for (name, s), (_, l) in zip(a.named_buffers(), b.named_buffers()):
            torch.testing.assert_close(s, l, msg=name)

    def test_eval_output_does_not_depend_on_the_batch(self, norm, iterative):
        torch.manual_seed(0)
        dlfa = DLFA(8, norm=norm, iterative=iterative)
        for _ in range(3):  # give BatchNorm non-trivial running statistics
            dlfa(torch.randn(4, 6, 8), torch.randn(4, 6, 8))
        dlfa.eval()
        low, mask = _padded([4, 2, 6], T=6, E=8, fill=3.0, seed=3)
        last, _ = _padded([4, 2, 6], T=6, E=8, fill=-3.0, seed=4)
        batched = dlfa(low, last, mask)
        for i, n in enumerate([4, 2, 6]):
            alone = dlfa(low[i:i + 1, :n], last[i:i + 1, :n])  # no mask: every token valid
            torch.testing.assert_close(batched[i, :n], alone[0])

    def test_fusing_a_layer_with_itself_is_the_layer(self, norm, iterative):
        dlfa = DLFA(8, norm=norm, iterative=iterative)
        x, mask = _padded([2, 4], T=4, E=8)
        assert torch.equal(dlfa(x, x, mask), x)

    def test_output_lies_between_the_inputs(self, norm, iterative):
        dlfa = DLFA(8, norm=norm, iterative=iterative)
        low, last = torch.randn(3, 5, 8), torch.randn(3, 5, 8)
        out = dlfa(low, last)
        assert (out >= torch.minimum(low, last) - 1e-6).all()
        assert (out <= torch.maximum(low, last) + 1e-6).all()
        assert not torch.equal(out, low) and not torch.equal(out, last)

    def test_gradients_reach_every_parameter_and_both_inputs(self, norm, iterative):
        torch.manual_seed(0)
        dlfa = DLFA(8, norm=norm, iterative=iterative)
        low = torch.randn(3, 5, 8, requires_grad=True)
        last = torch.randn(3, 5, 8, requires_grad=True)
        _, mask = _padded([5, 3, 4], T=5, E=8)
        upstream = torch.randn(3, 5, 8)
        (dlfa(low, last, mask) * upstream).sum().backward()
        for name, p in dlfa.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        valid, pad = mask.bool(), ~mask.bool()
        for t in (low, last):
            assert t.grad[valid].abs().sum() > 0
        # at padding, low is ignored and last is passed through unchanged
        assert torch.equal(low.grad[pad], torch.zeros_like(low.grad[pad]))
        assert torch.equal(last.grad[pad], upstream[pad])


def test_padded_positions_pass_the_last_layer_through():
    dlfa = DLFA(8)
    low, mask = _padded([2, 4], T=4, E=8, seed=1)
    last, _ = _padded([2, 4], T=4, E=8, seed=2)
    assert torch.equal(dlfa.aif((low + last) / 2, mask)[0, 2:], torch.zeros(2, 8))
    assert torch.equal(dlfa(low, last, mask)[0, 2:], last[0, 2:])


def test_a_batch_of_one_trains_without_error():
    dlfa = DLFA(8)
    out = dlfa(torch.randn(1, 4, 8), torch.randn(1, 4, 8))
    assert torch.isfinite(out).all()


def test_iterative_has_separate_second_branches():
    dlfa = DLFA(8, iterative=True)
    names = {n.split(".")[0] + "." + n.split(".")[1] for n, _ in dlfa.named_parameters()}
    assert names == {"aif.local_att", "aif.global_att", "aif2.local_att", "aif2.global_att"}


@pytest.mark.parametrize("kwargs, match", [
    (dict(hidden_size=10, reduction=4), "reduction must be a positive integer dividing hidden_size=10"),
    (dict(hidden_size=8, reduction=0), "reduction"),
    (dict(hidden_size=0), "hidden_size"),
    (dict(hidden_size=8, norm="group"), r"norm must be one of \('batch', 'layer'\)"),
])
def test_bad_construction_of_aif(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AIF(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(weight="x"), r"weight must be one of \('map', 'scaled'\)"),
    (dict(iterative="yes"), "iterative must be True or False"),
])
def test_bad_construction_of_dlfa(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DLFA(8, **kwargs)


def test_bad_inputs():
    aif, dlfa = AIF(8), DLFA(8)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, tokens, 8\); got \(2, 5, 6\)"):
        aif(torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match="x must have shape"):
        aif(torch.randn(5, 8))
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(batch, tokens\) = \(2, 5\); got \(2, 4\)"):
        aif(torch.randn(2, 5, 8), torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"attention_mask rows \[1\] have no valid token"):
        aif(torch.randn(2, 5, 8), torch.tensor([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="low and last must have the same shape"):
        dlfa(torch.randn(2, 5, 8), torch.randn(2, 4, 8))


def test_forward_and_backward_never_read_the_mask_on_an_accelerator():
    """On a device other than the CPU, reading tensor values in Python would stall it at every step.
    Meta tensors have no values at all: any bool()/item() in the hot path would raise here."""
    with torch.device("meta"):
        dlfa = DLFA(8, iterative=True)
        low = torch.randn(3, 5, 8, requires_grad=True)
        last = torch.randn(3, 5, 8)
        mask = torch.ones(3, 5, dtype=torch.long)
    out = dlfa(low, last, mask)
    out.sum().backward()
    assert out.shape == (3, 5, 8) and low.grad.shape == (3, 5, 8)
    dlfa.eval()
    assert dlfa(low, last, mask).shape == (3, 5, 8)


def test_masked_batchnorm_with_and_without_a_mask_agree_when_every_row_counts():
    torch.manual_seed(0)
    with_mask, without, ref = MaskedBatchNorm1d(6), MaskedBatchNorm1d(6), nn.BatchNorm1d(6)
    for bn in (with_mask, without, ref):
        bn.weight.data.copy_(torch.linspace(0.5, 2, 6))
        bn.bias.data.copy_(torch.linspace(-1, 1, 6))
    x = torch.randn(4, 5, 6) * 3 + 1
    expected = ref(x.reshape(-1, 6)).view_as(x)
    torch.testing.assert_close(with_mask(x, torch.ones(4, 5)), expected)
    torch.testing.assert_close(without(x), expected)
    for bn in (with_mask, without):
        torch.testing.assert_close(bn.running_mean, ref.running_mean)
        torch.testing.assert_close(bn.running_var, ref.running_var)
        assert bn.num_batches_tracked.item() == 1
