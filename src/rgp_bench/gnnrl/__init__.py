"""GNN-RL (Yu, Mazaheri, Jannesari, ICML 2022): channel pruning policies searched by PPO over a two-level graph
of the network, and the random-search control that shares its environment.

One concern per module: graph (the network's topology, read off torch.fx), features (a state's level-1
motifs and level-2 features from the current channel counts), counts (a policy's exact channel counts and
MACs as tensor arithmetic), encoder (the multi-stage GNN, actor and critic;
imports torch_geometric, so it is only imported when a search runs), ppo (the agent), env (preserve ratios to
masks, MACs, the exact-budget rescale and the validation reward), checkpoint (atomic search state), search
(the episode loops of gnnrl and random_search), bench (the CPU benchmark). The methods themselves are
rgp_bench.methods.gnnrl and rgp_bench.methods.random_search; docs/gnnrl.md lists the design decisions.
"""
