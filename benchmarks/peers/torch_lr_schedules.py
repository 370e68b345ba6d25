"""PyTorch's MultiStepLR, CosineAnnealingLR and ReduceLROnPlateau on the cases of
Tests/ElasticTests/LearningRateScheduleTests.swift, whose closed forms were worked by hand: a peer check of easgd's
--lr-schedule, run once by hand (pip install torch==2.13.0+cpu; python3 benchmarks/peers/torch_lr_schedules.py).
2026-12-05: multistep [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]; cosine 0.1 0.0868198… 0.055 0.01;
plateau scales [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25], as the Swift tests expect."""
import torch
def make(): 
    p = torch.nn.Parameter(torch.zeros(1)); return torch.optim.SGD([p], lr=0.1)
# MultiStepLR with milestones in steps 10, 25 (epochs 1, 2.5 at 10 steps/epoch), gamma 0.1
o = make(); s = torch.optim.lr_scheduler.MultiStepLR(o, milestones=[10, 25], gamma=0.1)
ms = []
for t in range(30): ms.append(o.param_groups[0]['lr']); o.step(); s.step()
print("multistep", [ms[i] for i in [0, 9, 10, 24, 25, 29]])
o = make(); s = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=100, eta_min=0.01)
cs = []
for t in range(101): cs.append(o.param_groups[0]['lr']); o.step(); s.step()
print("cosine", cs[0], cs[25], cs[50], cs[100])
o = make(); s = torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=1, threshold=1e-4)
ps = []
for loss in [1.0, 0.9, 0.95, 0.96, 0.85, 0.85, 0.84999, float('nan'), 0.7]:
    s.step(loss); ps.append(o.param_groups[0]['lr'] / 0.1)
print("plateau", ps)
