"""Losses against hand computations (plain Python math): distillation (every reduction, invariants) and MNTP."""

from __future__ import annotations

import math

import pytest
import torch

from babylm.models.losses import causal_lm_loss, distillation_loss, mntp_loss

# One sequence of 3 tokens over a 3-word vocabulary: positions 0 and 1 are scored (targets 2 and 0).
INPUT_IDS = torch.tensor([[1, 2, 0]])
STUDENT = [[0.0, 1.0, 2.0], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]
TEACHER_A = [[2.0, 0.0, 0.0], [0.0, 0.0, 3.0], [1.0, 0.0, 1.0]]
TEACHER_B = [[0.0, 2.0, 0.0], [1.0, 1.0, 0.0], [0.0, 3.0, 0.0]]


def softmax(row, temperature=1.0):
    exps = [math.exp(x / temperature) for x in row]
    return [e / sum(exps) for e in exps]


def kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def as_logits(rows):
    return torch.tensor([rows], dtype=torch.float32)  # (1, T, V)


def hand_ce():
    # position 0 predicts token 2, position 1 predicts token 0
    return (-math.log(softmax(STUDENT[0])[2]) - math.log(softmax(STUDENT[1])[0])) / 2


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_token_mean_averages_kl_over_scored_positions_then_teachers(temperature):
    q = [softmax(STUDENT[t], temperature) for t in range(2)]
    kl_a = (kl(softmax(TEACHER_A[0], temperature), q[0]) + kl(softmax(TEACHER_A[1], temperature), q[1])) / 2
    kl_b = (kl(softmax(TEACHER_B[0], temperature), q[0]) + kl(softmax(TEACHER_B[1], temperature), q[1])) / 2
    expected_kl = (kl_a + kl_b) / 2

    parts = distillation_loss(
        as_logits(STUDENT), [as_logits(TEACHER_A), as_logits(TEACHER_B)], INPUT_IDS, alpha=0.25, temperature=temperature
    )

    assert parts.ce.item() == pytest.approx(hand_ce(), rel=1e-5)
    assert parts.kl.item() == pytest.approx(expected_kl, rel=1e-5)
    assert parts.loss.item() == pytest.approx(0.25 * hand_ce() + 0.75 * temperature**2 * expected_kl, rel=1e-5)


def test_ensemble_mean_averages_teacher_distributions_first():
    temperature = 2.0
    q = [softmax(STUDENT[t], temperature) for t in range(2)]
    mixtures = [
        [(a + b) / 2 for a, b in zip(softmax(TEACHER_A[t], temperature), softmax(TEACHER_B[t], temperature))]
        for t in range(2)
    ]
    expected_kl = (kl(mixtures[0], q[0]) + kl(mixtures[1], q[1])) / 2

    parts = distillation_loss(
        as_logits(STUDENT), [as_logits(TEACHER_A), as_logits(TEACHER_B)], INPUT_IDS,
        alpha=0.5, temperature=temperature, reduction="ensemble_mean",
    )

    assert parts.kl.item() == pytest.approx(expected_kl, rel=1e-5)
    assert parts.loss.item() == pytest.approx(0.5 * hand_ce() + 0.5 * 4.0 * expected_kl, rel=1e-5)


def test_legacy_batch_sum_reproduces_the_reference_code():
    """Reference: mean teacher logits, KL summed over all T positions and V, divided by batch size only."""
    temperature = 2.0
    mean_teacher = [[(a + b) / 2 for a, b in zip(TEACHER_A[t], TEACHER_B[t])] for t in range(3)]
    per_sequence = sum(kl(softmax(mean_teacher[t], temperature), softmax(STUDENT[t], temperature)) for t in range(3))
    # batch of two identical sequences: the sum doubles, the division by batch brings it back
    student = as_logits(STUDENT).repeat(2, 1, 1)
    teachers = [as_logits(TEACHER_A).repeat(2, 1, 1), as_logits(TEACHER_B).repeat(2, 1, 1)]

    parts = distillation_loss(
        student, teachers, INPUT_IDS.repeat(2, 1), alpha=0.5, temperature=temperature, reduction="legacy_batch_sum"
    )

    assert parts.kl.item() == pytest.approx(per_sequence, rel=1e-5)
    assert parts.loss.item() == pytest.approx(0.5 * hand_ce() + 0.5 * 4.0 * per_sequence, rel=1e-5)


def test_ignored_targets_drop_out_of_ce_and_kl():
    ids = torch.tensor([[1, 2, -100]])  # only position 0 is scored
    parts = distillation_loss(as_logits(STUDENT), [as_logits(TEACHER_A)], ids, temperature=1.0)

    assert parts.ce.item() == pytest.approx(-math.log(softmax(STUDENT[0])[2]), rel=1e-5)
    assert parts.kl.item() == pytest.approx(kl(softmax(TEACHER_A[0]), softmax(STUDENT[0])), rel=1e-5)


@pytest.mark.parametrize("reduction", ["token_mean", "ensemble_mean", "legacy_batch_sum"])
def test_kl_is_zero_when_student_equals_teacher(reduction):
    logits = torch.randn(2, 5, 11)
    parts = distillation_loss(logits, [logits.clone(), logits.clone()], torch.randint(0, 11, (2, 5)),
                              reduction=reduction)

    assert parts.kl.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("reduction", ["token_mean", "ensemble_mean", "legacy_batch_sum"])
def test_alpha_one_is_plain_cross_entropy(reduction):
    torch.manual_seed(0)
    student, teacher, ids = torch.randn(2, 5, 11), torch.randn(2, 5, 11), torch.randint(0, 11, (2, 5))
    parts = distillation_loss(student, [teacher], ids, alpha=1.0, reduction=reduction)

    assert parts.kl.item() > 0
    torch.testing.assert_close(parts.loss, causal_lm_loss(student, ids))


def test_bf16_logits_are_scored_in_fp32():
    torch.manual_seed(0)
    student, teacher, ids = torch.randn(2, 5, 11), torch.randn(2, 5, 11), torch.randint(0, 11, (2, 5))
    parts = distillation_loss(student.bfloat16(), [teacher.bfloat16()], ids)
    reference = distillation_loss(student.bfloat16().float(), [teacher.bfloat16().float()], ids)

    assert parts.loss.dtype == torch.float32
    torch.testing.assert_close(parts.loss, reference.loss)


def test_gradient_flows_to_student_logits_only():
    student = torch.randn(2, 5, 11, requires_grad=True)
    teacher = torch.randn(2, 5, 11)
    distillation_loss(student, [teacher], torch.randint(0, 11, (2, 5))).loss.backward()

    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alpha": 1.5}, "alpha"),
        ({"temperature": 0.0}, "temperature"),
        ({"reduction": "sum"}, "reduction"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        distillation_loss(torch.zeros(1, 3, 4), [torch.zeros(1, 3, 4)], torch.zeros(1, 3, dtype=torch.long), **kwargs)


def test_teacher_with_another_vocabulary_is_a_clear_error():
    with pytest.raises(ValueError, match=r"teacher 1 logits have shape \(1, 3, 5\)"):
        distillation_loss(torch.zeros(1, 3, 4), [torch.zeros(1, 3, 4), torch.zeros(1, 3, 5)],
                          torch.zeros(1, 3, dtype=torch.long))


def test_token_mean_and_ensemble_mean_differ_by_a_constant_only():
    """Both weight log q by the mean teacher distribution, so the student gets the same gradient."""
    torch.manual_seed(0)
    student = torch.randn(2, 5, 11, requires_grad=True)
    teachers, ids = [torch.randn(2, 5, 11), torch.randn(2, 5, 11)], torch.randint(0, 11, (2, 5))
    grads, kls = {}, {}
    for reduction in ("token_mean", "ensemble_mean"):
        student.grad = None
        parts = distillation_loss(student, teachers, ids, reduction=reduction)
        parts.loss.backward()
        grads[reduction], kls[reduction] = student.grad.clone(), parts.kl.item()

    torch.testing.assert_close(grads["token_mean"], grads["ensemble_mean"])
    assert kls["token_mean"] > kls["ensemble_mean"]  # mean of KLs ≥ KL of the mixture (convexity)


@pytest.mark.parametrize("reduction, positions", [("token_mean", 1), ("ensemble_mean", 1), ("legacy_batch_sum", 2)])
def test_a_class_a_teacher_rules_out_adds_nothing_to_the_kl(reduction, positions):
    """Issue 10: teacher [0, 0, 0, −inf] against a uniform student gave NaN; right: log(4/3) per position
    (0·log 0 = 0)."""
    student = torch.zeros(1, 2, 4, requires_grad=True)
    teacher = torch.tensor([[[0.0, 0.0, 0.0, -math.inf]] * 2])
    ids = torch.zeros(1, 2, dtype=torch.long)

    parts = distillation_loss(student, [teacher, teacher], ids, temperature=2.0, reduction=reduction)
    parts.loss.backward()

    # token_mean and ensemble_mean average over the one scored position, legacy_batch_sum sums both
    assert parts.kl.item() == pytest.approx(positions * math.log(4 / 3), rel=1e-5)
    assert torch.isfinite(student.grad).all()


@pytest.mark.parametrize("method", ["topk", "sample"])
def test_cached_targets_of_a_teacher_that_rules_out_a_class_give_the_same_kl(method):
    from babylm.models.losses import sparse_distillation_loss
    from babylm.training.teacher_cache import compact_targets

    teacher = torch.tensor([[[0.0, 0.0, 0.0, -math.inf]] * 2])
    targets = compact_targets([teacher], 2.0, "token_mean", method, 4)  # the class with p = 0 is never stored

    parts = sparse_distillation_loss(torch.zeros(1, 2, 4), targets, torch.zeros(1, 2, dtype=torch.long),
                                     temperature=2.0)

    assert parts.kl.item() == pytest.approx(math.log(4 / 3), rel=1e-5)  # for any draw: q is uniform


def test_a_student_that_rules_out_a_class_the_teacher_also_rules_out_has_kl_zero():
    logits = torch.tensor([[[1.0, 2.0, 0.5, -math.inf]] * 3], requires_grad=True)
    parts = distillation_loss(logits, [logits.detach()], torch.zeros(1, 3, dtype=torch.long))
    parts.loss.backward()

    assert parts.kl.item() == pytest.approx(0.0, abs=1e-7)
    assert torch.isfinite(logits.grad).all()


def test_mntp_predicts_each_masked_token_from_the_position_before_it():
    # the masked input's logits; targets: token 2 (at position 1) and token 0 (at position 2) were masked
    targets = torch.tensor([[False, True, True]])
    expected = (-math.log(softmax(STUDENT[0])[2]) - math.log(softmax(STUDENT[1])[0])) / 2  # read at positions 0 and 1
    assert mntp_loss(as_logits(STUDENT), INPUT_IDS, targets).item() == pytest.approx(expected, rel=1e-6)
    only_last = torch.tensor([[False, False, True]])  # one target: position 1 predicts it, position 0 is no target
    single = -math.log(softmax(STUDENT[1])[0])
    assert mntp_loss(as_logits(STUDENT), INPUT_IDS, only_last).item() == pytest.approx(single)
    # two windows: each window's mean over its targets, then the mean over windows (not over all targets)
    both = torch.cat([as_logits(STUDENT), as_logits(STUDENT)])  # (2, T, V)
    loss = mntp_loss(both, torch.cat([INPUT_IDS, INPUT_IDS]), torch.cat([targets, only_last]))
    assert loss.item() == pytest.approx((expected + single) / 2, rel=1e-6)
    # a window without a chosen token (a low rate, a short window) adds nothing: not a 0 in the mean
    none = torch.zeros_like(targets)
    loss = mntp_loss(both, torch.cat([INPUT_IDS, INPUT_IDS]), torch.cat([targets, none]))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    logits = as_logits(STUDENT).requires_grad_()
    loss = mntp_loss(logits, INPUT_IDS, torch.zeros_like(targets))  # nothing masked: 0, and a zero gradient
    loss.backward()
    assert loss.item() == 0.0 and not logits.grad.any()


def test_window_mean_averages_each_window_then_the_windows():
    # window 1 scores positions 0 and 1, window 2 only position 1 (its first target ignored, as an unchosen token)
    ids = torch.tensor([[1, 2, 0], [1, -100, 0]])
    student, teacher = torch.cat([as_logits(STUDENT)] * 2), torch.cat([as_logits(TEACHER_A)] * 2)
    parts = distillation_loss(student.requires_grad_(), [teacher], ids, temperature=1.0, window_mean=True)

    ce_1, ce_2 = hand_ce(), -math.log(softmax(STUDENT[1])[0])
    kl_1 = (kl(softmax(TEACHER_A[0]), softmax(STUDENT[0])) + kl(softmax(TEACHER_A[1]), softmax(STUDENT[1]))) / 2
    kl_2 = kl(softmax(TEACHER_A[1]), softmax(STUDENT[1]))
    assert parts.ce.item() == pytest.approx((ce_1 + ce_2) / 2, rel=1e-5)  # not (2 ce_1 + ce_2) / 3, the token mean
    assert parts.kl.item() == pytest.approx((kl_1 + kl_2) / 2, rel=1e-5)
    # the gradient is that of the same objective written with autograd, one window at a time
    reference = student.detach().clone().requires_grad_()
    per_window = [distillation_loss(reference[i:i + 1], [teacher[i:i + 1]], ids[i:i + 1], temperature=1.0).loss
                  for i in range(2)]
    (sum(per_window) / 2).backward()
    parts.loss.backward()
    assert torch.allclose(student.grad, reference.grad, atol=1e-6)
    # a third window without a target is left out of the mean (as MNTP's): the same loss
    no_target = torch.cat([ids, torch.full((1, 3), -100)])
    student3, teacher3 = torch.cat([student.detach(), student.detach()[:1]]), torch.cat([teacher, teacher[:1]])
    parts3 = distillation_loss(student3, [teacher3], no_target, temperature=1.0, window_mean=True)
    assert parts3.ce.item() == pytest.approx(parts.ce.item(), rel=1e-6)
    assert parts3.kl.item() == pytest.approx(parts.kl.item(), rel=1e-6)
    with pytest.raises(ValueError, match="window_mean needs reduction"):
        distillation_loss(student, [teacher], ids, reduction="legacy_batch_sum", window_mean=True)
