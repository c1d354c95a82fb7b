"""Benchmarks (``make bench``): each module measures one part next to a baseline measured in the same
run and writes ``bench/results/<part>.json``; ``python -m bench`` runs them all and prints the table
that the README quotes. Timings are reported as ratios against their baseline because these machines
are shared and noisy.
"""
