"""The CrossGuard policy pack: rule modules grouped by domain; `pack.POLICIES` lists them all."""
