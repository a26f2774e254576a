"""Neural-network building blocks: ``Module``, ``Parameter``, the containers and the layers."""
